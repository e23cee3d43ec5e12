// Occupancy from the device files' SM limits, hand-computed for sm_80 (A100) and sm_90 (H100), and
// how blocks of different kernels share one SM.
#include <gtest/gtest.h>

#include "runtime/sim/device_spec.h"
#include "runtime/sim/sim_plan.h"
#include "sim_test_util.h"

namespace dstack::sim {
namespace {

using test::KernelShape;
using test::make_kernel;

TEST(SimOccupancy, Sm90ThreadsBind) {
  // 256 threads = 8 warps: 64 warps / 8 = 8 blocks. 32 registers: 1024 per warp, 16384 per
  // sub-partition -> 16 warps each, 64 in all -> 8 blocks too; the tie reports threads.
  const auto d = load_device("h100_sxm");
  const SimKernel k = make_kernel(d, KernelShape{.threads = 256, .registers = 32});
  EXPECT_EQ(k.occupancy.blocks_per_sm, 8);
  EXPECT_EQ(k.occupancy.blocks_by_registers, 8);
  EXPECT_EQ(k.occupancy.limit, kernels::OccupancyLimit::threads);
}

TEST(SimOccupancy, Sm90RegistersBind) {
  // 128 threads, 128 registers: 4096 per warp; 16384 / 4096 = 4 warps per sub-partition, 16 warps
  // per SM, 4 warps per block -> 4 blocks.
  const auto d = load_device("h100_sxm");
  const SimKernel k = make_kernel(d, KernelShape{.threads = 128, .registers = 128});
  EXPECT_EQ(k.occupancy.blocks_per_sm, 4);
  EXPECT_EQ(k.occupancy.limit, kernels::OccupancyLimit::registers);
}

TEST(SimOccupancy, SharedMemoryBindsDifferentlyOnSm80AndSm90) {
  // 48 KiB per block + 1 KiB reserved = 50176 bytes. sm_90: 233472 / 50176 = 4.65 -> 4 blocks;
  // sm_80: 167936 / 50176 = 3.35 -> 3 blocks.
  const KernelShape s{.threads = 128, .registers = 32, .shared_bytes = 48 * 1024};
  const SimKernel h = make_kernel(load_device("h100_sxm"), s);
  const SimKernel a = make_kernel(load_device("a100"), s);
  EXPECT_EQ(h.occupancy.blocks_per_sm, 4);
  EXPECT_EQ(a.occupancy.blocks_per_sm, 3);
  EXPECT_EQ(h.occupancy.limit, kernels::OccupancyLimit::shared_memory);
  EXPECT_EQ(a.occupancy.limit, kernels::OccupancyLimit::shared_memory);
  EXPECT_EQ(h.occupancy.shared_bytes_per_block, 50176);
}

TEST(SimOccupancy, Sm80BlockLimitBinds) {
  // 32 threads = 1 warp: 64 blocks by threads, but at most 32 resident blocks per SM.
  const SimKernel k = make_kernel(load_device("a100"), KernelShape{.threads = 32, .registers = 16});
  EXPECT_EQ(k.occupancy.blocks_per_sm, 32);
  EXPECT_EQ(k.occupancy.limit, kernels::OccupancyLimit::blocks);
}

TEST(SimOccupancy, Sm80RegisterRoundingPerWarp) {
  // 40 registers: 1280 per warp, already a multiple of 256; 16384 / 1280 = 12 warps per
  // sub-partition, 48 per SM; 256 threads = 8 warps -> 6 blocks (threads would allow 8).
  const SimKernel k = make_kernel(load_device("a100"), KernelShape{.threads = 256, .registers = 40});
  EXPECT_EQ(k.occupancy.blocks_per_sm, 6);
  EXPECT_EQ(k.occupancy.limit, kernels::OccupancyLimit::registers);
}

TEST(SimOccupancy, T4LimitsFromItsFile) {
  // sm_75: 1024 threads per SM -> 4 blocks of 256 threads; 64 KiB of shared memory, no reservation:
  // 32 KiB blocks -> 2.
  const auto t4 = load_device("t4");
  EXPECT_EQ(make_kernel(t4, KernelShape{.threads = 256}).occupancy.blocks_per_sm, 4);
  EXPECT_EQ(make_kernel(t4, KernelShape{.threads = 64, .shared_bytes = 32 * 1024}).occupancy.blocks_per_sm, 2);
}

TEST(SimOccupancy, BlocksOfDifferentKernelsShareAnSm) {
  const auto d = load_device("h100_sxm");
  const SimKernel a = make_kernel(d, KernelShape{.threads = 256, .registers = 32});   // 8 per SM (threads)
  const SimKernel b = make_kernel(d, KernelShape{.threads = 128, .registers = 128});  // 4 per SM (registers)
  std::array<double, kSmResources> used{};
  EXPECT_EQ(blocks_that_fit(a, used), 8);
  for (int r = 0; r < kSmResources; ++r) used[r] += 4 * a.use[r];  // 4 blocks of a: half the threads and registers
  EXPECT_EQ(blocks_that_fit(a, used), 4);
  EXPECT_EQ(blocks_that_fit(b, used), 2);  // half the registers left: 2 of b's 4
  for (int r = 0; r < kSmResources; ++r) used[r] += 2 * b.use[r];
  EXPECT_EQ(blocks_that_fit(a, used), 0);
  EXPECT_EQ(blocks_that_fit(b, used), 0);
}

TEST(SimOccupancy, ResourceSourceSaysWhenItIsApproximate) {
  // V100 and T4 have no compiled code: registers come from another architecture, said so.
  const ResourceSource v = resource_source(70);
  EXPECT_TRUE(v.approximate);
  EXPECT_NE(v.note.find("approximate"), std::string::npos) << v.note;
  const ResourceSource h = resource_source(90);
  if (h.code_arch && *h.code_arch == 90) {
    EXPECT_FALSE(h.approximate);
    EXPECT_EQ(h.note, "registers and shared memory from ptxas for sm_90");
  }
}

}  // namespace
}  // namespace dstack::sim
