#pragma once
// Occupancy of a kernel launch on one SM, from the launch geometry (kernels/<family>.h), the
// kernel's real registers and shared memory (kernels/kernel_resources.h) and the SM's limits. The
// same arithmetic as NVIDIA's occupancy calculator (cuda_occupancy.h) with the driver's default
// shared-memory carveout, in integers. CPU only, no CUDA header.
#include <cstdint>
#include <span>
#include <string_view>

#include "kernels/kernel_resources.h"
#include "kernels/launch.h"

namespace dstack::kernels {

// What one SM of an architecture offers a kernel (numbers and sources in occupancy.cc).
struct SmLimits {
  int arch = 0;                          // 80 = sm_80
  std::string_view example_gpu;          // "A100", for messages
  int warp_size = 32;
  int max_threads_per_block = 0;
  int max_threads_per_sm = 0;            // resident threads; / warp_size = resident warps
  int max_blocks_per_sm = 0;
  int registers_per_sm = 0;              // 32-bit registers
  int max_registers_per_block = 0;
  int max_registers_per_thread = 0;
  int register_alloc_unit = 0;           // registers are given to a warp in multiples of this
  int register_sub_partitions = 0;       // the register file is split this way; a warp lives in one
  int shared_bytes_per_sm = 0;           // with the largest carveout (the driver's default choice)
  int max_shared_bytes_per_block = 0;    // with the opt-in attribute; 48 KiB without it
  int reserved_shared_bytes_per_block = 0;  // taken by the driver from every block (since sm_80)
  int shared_alloc_unit = 0;             // a block's shared memory is allocated in multiples of this
  int barrier_slots_per_sm = 0;          // named barriers resident on an SM; 0: not a limit
};

// sm_80, sm_86, sm_89, sm_90, ascending.
std::span<const SmLimits> known_sm_limits();
// Throws std::invalid_argument naming the architectures dstack knows.
const SmLimits& sm_limits(int sm_arch);
// "90", "sm_90" or "sm90" -> 90; throws std::invalid_argument for anything else or an unknown arch.
int parse_sm_arch(std::string_view text);

// Which limit stops one more block from fitting on the SM. On a tie the earlier one is reported.
enum class OccupancyLimit { threads, blocks, registers, shared_memory, barriers };
const char* occupancy_limit_name(OccupancyLimit limit);  // "threads", ..., "shared memory", "barriers"

struct Occupancy {
  int blocks_per_sm = 0;
  int warps_per_block = 0;
  int warps_per_sm = 0;                  // blocks_per_sm * warps_per_block
  int max_warps_per_sm = 0;
  double fraction = 0;                   // warps_per_sm / max_warps_per_sm
  OccupancyLimit limit = OccupancyLimit::threads;
  // Blocks per SM each limit alone allows (a limit that cannot bind gives INT_MAX).
  int blocks_by_threads = 0, blocks_by_blocks = 0, blocks_by_registers = 0, blocks_by_shared_memory = 0,
      blocks_by_barriers = 0;
  int registers_per_block = 0;           // as allocated (per-warp rounding)
  int shared_bytes_per_block = 0;        // as allocated (reservation and rounding included)
};

// Blocks of `launch` resident on one SM of `sm`, using `resources` (the kernel's record for the
// code the SM runs: same major architecture, not newer). The block's shared memory is the larger of
// launch.shared_bytes (static + dynamic, as the launch function computes it) and the static bytes
// ptxas allocated. Throws std::invalid_argument when the block cannot run at all (too many threads,
// registers or bytes for one block) or the resources are for code this SM cannot run.
Occupancy occupancy(const LaunchGeometry& launch, const KernelResources& resources, const SmLimits& sm);

// Waves a grid of `grid_blocks` blocks takes on `sm_count` SMs at that occupancy:
// ceil(grid_blocks / (blocks_per_sm * sm_count)); 0 for an empty grid. Throws for sm_count < 1.
int64_t waves(const Occupancy& occ, unsigned long long grid_blocks, int sm_count);

}  // namespace dstack::kernels
