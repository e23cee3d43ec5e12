#include "kernels/occupancy.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <stdexcept>
#include <string>

namespace dstack::kernels {
namespace {

constexpr int KiB = 1024;

// Sources:
//   [G] CUDA C++ Programming Guide, "Compute Capabilities", table "Technical Specifications per
//       Compute Capability" (resident blocks, warps and threads per SM, registers, shared memory),
//       and its sections "Compute Capability 8.x" / "9.0" (the 1 KB of shared memory the driver
//       reserves per block, the shared memory capacities per SM: 164 KB on 8.0, 100 KB on 8.6/8.9,
//       228 KB on 9.0).
//   [O] The occupancy calculator in the CUDA toolkit, include/cuda_occupancy.h (CUDA 13.0):
//       register allocation unit (256 per warp), 4 register sub-partitions, shared memory
//       allocation unit (128 bytes for 8.x/9.x), and named-barrier slots: the calculator limits
//       blocks by barriers only from 9.0 on (2 per resident block, 64 per SM), so 8.x has 0 here,
//       meaning "no barrier limit".
constexpr SmLimits kLimits[] = {
    // arch, gpu, warp, threads/block [G], threads/SM [G], blocks/SM [G], regs/SM [G], regs/block [G],
    // regs/thread [G], reg unit [O], sub-partitions [O], smem/SM [G], smem/block opt-in [G],
    // reserved/block [G], smem unit [O], barrier slots [O]
    {80, "A100", 32, 1024, 2048, 32, 64 * KiB, 64 * KiB, 255, 256, 4, 164 * KiB, 163 * KiB, 1 * KiB, 128, 0},
    {86, "RTX 3090", 32, 1024, 1536, 16, 64 * KiB, 64 * KiB, 255, 256, 4, 100 * KiB, 99 * KiB, 1 * KiB, 128, 0},
    {89, "L4 / RTX 4090", 32, 1024, 1536, 24, 64 * KiB, 64 * KiB, 255, 256, 4, 100 * KiB, 99 * KiB, 1 * KiB, 128, 0},
    {90, "H100", 32, 1024, 2048, 32, 64 * KiB, 64 * KiB, 255, 256, 4, 228 * KiB, 227 * KiB, 1 * KiB, 128, 64},
};

std::string known_archs() {
  std::string s;
  for (const SmLimits& l : kLimits) s += (s.empty() ? "sm_" : ", sm_") + std::to_string(l.arch);
  return s;
}

int round_up(int x, int unit) { return (x + unit - 1) / unit * unit; }

std::string launch_name(const LaunchGeometry& g, const SmLimits& sm) {
  return "kernel '" + g.kernel + "' (" + std::to_string(g.block.count()) + " threads per block) on sm_" +
         std::to_string(sm.arch);
}

}  // namespace

std::span<const SmLimits> known_sm_limits() { return kLimits; }

const SmLimits& sm_limits(int sm_arch) {
  for (const SmLimits& l : kLimits)
    if (l.arch == sm_arch) return l;
  throw std::invalid_argument("unknown GPU architecture sm_" + std::to_string(sm_arch) + "; dstack knows " +
                              known_archs());
}

int parse_sm_arch(std::string_view text) {
  std::string_view digits = text;
  if (digits.substr(0, 3) == "sm_") digits.remove_prefix(3);
  else if (digits.substr(0, 2) == "sm") digits.remove_prefix(2);
  int arch = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), arch);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
    throw std::invalid_argument("'" + std::string(text) + "' is not a GPU architecture: give 90 or sm_90 " +
                                "(dstack knows " + known_archs() + ")");
  return sm_limits(arch).arch;
}

const char* occupancy_limit_name(OccupancyLimit limit) {
  switch (limit) {
    case OccupancyLimit::threads: return "threads";
    case OccupancyLimit::blocks: return "blocks";
    case OccupancyLimit::registers: return "registers";
    case OccupancyLimit::shared_memory: return "shared memory";
    case OccupancyLimit::barriers: return "barriers";
  }
  return "?";
}

Occupancy occupancy(const LaunchGeometry& launch, const KernelResources& res, const SmLimits& sm) {
  if (res.arch / 10 != sm.arch / 10 || res.arch > sm.arch)
    throw std::invalid_argument("resources of '" + std::string(res.kernel) + "' compiled for sm_" +
                                std::to_string(res.arch) + " describe no code an sm_" + std::to_string(sm.arch) +
                                " GPU runs; look up the kernel for the device's own architecture");
  const unsigned long long threads = launch.block.count();
  if (threads == 0 || threads > static_cast<unsigned long long>(sm.max_threads_per_block))
    throw std::invalid_argument(launch_name(launch, sm) + ": a block must have 1 to " +
                                std::to_string(sm.max_threads_per_block) + " threads");
  if (res.registers > sm.max_registers_per_thread)
    throw std::invalid_argument(launch_name(launch, sm) + " uses " + std::to_string(res.registers) +
                                " registers per thread; the most is " + std::to_string(sm.max_registers_per_thread));

  Occupancy o;
  o.warps_per_block = static_cast<int>((threads + sm.warp_size - 1) / sm.warp_size);
  o.max_warps_per_sm = sm.max_threads_per_sm / sm.warp_size;
  o.blocks_by_threads = o.max_warps_per_sm / o.warps_per_block;
  o.blocks_by_blocks = sm.max_blocks_per_sm;

  // Registers go to whole warps in units of register_alloc_unit, each warp within one
  // sub-partition's share of the register file. The hardware checks a block as if its warps were
  // spread over all sub-partitions at once, hence the rounding of the warp count.
  const int regs_per_warp = round_up(res.registers * sm.warp_size, sm.register_alloc_unit);
  o.registers_per_block = regs_per_warp * o.warps_per_block;
  if (regs_per_warp * round_up(o.warps_per_block, sm.register_sub_partitions) > sm.max_registers_per_block)
    throw std::invalid_argument(launch_name(launch, sm) + " needs " + std::to_string(o.registers_per_block) +
                                " registers per block (" + std::to_string(res.registers) +
                                " per thread); the most is " + std::to_string(sm.max_registers_per_block) +
                                ": use fewer threads or cap registers with __launch_bounds__");
  o.blocks_by_registers =
      regs_per_warp == 0
          ? INT_MAX
          : (sm.registers_per_sm / sm.register_sub_partitions / regs_per_warp) * sm.register_sub_partitions /
                o.warps_per_block;

  // Every block is charged the driver's reservation on top of its own bytes, rounded to the unit.
  const std::size_t block_bytes = std::max(launch.shared_bytes, static_cast<std::size_t>(res.shared_bytes));
  if (block_bytes > static_cast<std::size_t>(sm.max_shared_bytes_per_block))
    throw std::invalid_argument(launch_name(launch, sm) + " asks for " + std::to_string(block_bytes) +
                                " bytes of shared memory per block; the most is " +
                                std::to_string(sm.max_shared_bytes_per_block));
  o.shared_bytes_per_block =
      round_up(static_cast<int>(block_bytes) + sm.reserved_shared_bytes_per_block, sm.shared_alloc_unit);
  // A block with no shared memory on an SM that reserves none (before sm_80) is not limited by it.
  o.blocks_by_shared_memory =
      o.shared_bytes_per_block == 0 ? INT_MAX : sm.shared_bytes_per_sm / o.shared_bytes_per_block;

  o.blocks_by_barriers =
      (res.barriers == 0 || sm.barrier_slots_per_sm == 0) ? INT_MAX : sm.barrier_slots_per_sm / res.barriers;

  const std::pair<int, OccupancyLimit> bounds[] = {{o.blocks_by_threads, OccupancyLimit::threads},
                                                   {o.blocks_by_blocks, OccupancyLimit::blocks},
                                                   {o.blocks_by_registers, OccupancyLimit::registers},
                                                   {o.blocks_by_shared_memory, OccupancyLimit::shared_memory},
                                                   {o.blocks_by_barriers, OccupancyLimit::barriers}};
  o.blocks_per_sm = INT_MAX;
  for (const auto& [blocks, limit] : bounds)
    if (blocks < o.blocks_per_sm) {
      o.blocks_per_sm = blocks;
      o.limit = limit;
    }
  o.warps_per_sm = o.blocks_per_sm * o.warps_per_block;
  o.fraction = static_cast<double>(o.warps_per_sm) / o.max_warps_per_sm;
  return o;
}

int64_t waves(const Occupancy& occ, unsigned long long grid_blocks, int sm_count) {
  if (sm_count < 1) throw std::invalid_argument("waves: the GPU must have at least one SM (got " +
                                                std::to_string(sm_count) + ")");
  if (grid_blocks == 0) return 0;
  const unsigned long long per_wave = static_cast<unsigned long long>(occ.blocks_per_sm) * sm_count;
  return static_cast<int64_t>((grid_blocks + per_wave - 1) / per_wave);
}

}  // namespace dstack::kernels
