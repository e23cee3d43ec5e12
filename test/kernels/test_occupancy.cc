// Occupancy arithmetic (kernels/occupancy.h) on hand-computed cases; every number below is worked
// out in the comment next to it from the SM limits in kernels/occupancy.cc.
#include <gtest/gtest.h>

#include <climits>
#include <stdexcept>
#include <string>

#include "kernels/occupancy.h"

namespace dstack::kernels {
namespace {

LaunchGeometry launch(unsigned threads, std::size_t shared_bytes = 0, unsigned blocks = 1) {
  // Built whole: GCC 12 warns falsely (-Wrestrict) on assigning a short literal to g.kernel here.
  return LaunchGeometry{std::string("k"), Dim3{blocks, 1, 1}, Dim3{threads, 1, 1}, shared_bytes};
}

KernelResources resources(int arch, int registers, int static_shared = 0, int barriers = 0) {
  KernelResources r;
  r.kernel = "k";
  r.arch = arch;
  r.registers = registers;
  r.shared_bytes = static_shared;
  r.barriers = barriers;
  return r;
}

TEST(Occupancy, ThreadsBindAt256x32Registers) {
  // sm_90: 64 warps / 8 per block = 8 blocks. Registers: 32 x 32 = 1024 per warp, 16384 per
  // sub-partition -> 16 warps each, 64 per SM, 8 blocks: a tie, reported as threads.
  const Occupancy o = occupancy(launch(256), resources(90, 32), sm_limits(90));
  EXPECT_EQ(o.blocks_per_sm, 8);
  EXPECT_EQ(o.warps_per_block, 8);
  EXPECT_EQ(o.warps_per_sm, 64);
  EXPECT_EQ(o.max_warps_per_sm, 64);
  EXPECT_EQ(o.fraction, 1.0);
  EXPECT_EQ(o.limit, OccupancyLimit::threads);
  EXPECT_EQ(o.blocks_by_threads, 8);
  EXPECT_EQ(o.blocks_by_registers, 8);
  EXPECT_EQ(o.blocks_by_blocks, 32);
  EXPECT_EQ(o.blocks_by_shared_memory, 228);  // 233472 / (0 + 1024 reserved)
  EXPECT_EQ(o.blocks_by_barriers, INT_MAX);
  EXPECT_EQ(o.registers_per_block, 8192);
  EXPECT_EQ(o.shared_bytes_per_block, 1024);
}

TEST(Occupancy, NoSharedMemoryAndNoReservationIsNoLimit) {
  // Before sm_80 the driver reserved nothing per block: a block without shared memory then takes
  // none, and shared memory must not limit (or divide by zero).
  SmLimits older = sm_limits(80);
  older.reserved_shared_bytes_per_block = 0;
  const Occupancy o = occupancy(launch(256), resources(80, 32), older);
  EXPECT_EQ(o.shared_bytes_per_block, 0);
  EXPECT_EQ(o.blocks_by_shared_memory, INT_MAX);
  EXPECT_NE(o.limit, OccupancyLimit::shared_memory);
}

TEST(Occupancy, RegistersBindAt256x128Registers) {
  // 128 x 32 = 4096 registers per warp; 16384 / 4096 = 4 warps per sub-partition, 16 per SM,
  // 16 / 8 = 2 blocks, 16 of 64 warps.
  const Occupancy o = occupancy(launch(256), resources(90, 128), sm_limits(90));
  EXPECT_EQ(o.blocks_per_sm, 2);
  EXPECT_EQ(o.warps_per_sm, 16);
  EXPECT_EQ(o.fraction, 0.25);
  EXPECT_EQ(o.limit, OccupancyLimit::registers);
}

TEST(Occupancy, RegistersRoundUpToTheAllocationUnit) {
  // 33 registers: 33 x 32 = 1056 -> 1280 per warp; 16384 / 1280 = 12 warps per sub-partition,
  // 48 per SM, 48 / 8 = 6 blocks of 256 threads.
  const Occupancy o = occupancy(launch(256), resources(80, 33), sm_limits(80));
  EXPECT_EQ(o.registers_per_block, 1280 * 8);
  EXPECT_EQ(o.blocks_per_sm, 6);
  EXPECT_EQ(o.limit, OccupancyLimit::registers);
}

TEST(Occupancy, SharedMemoryBindsAt48KiBOnSm80) {
  // (49152 + 1024 reserved) = 50176, already a multiple of 128; 167936 / 50176 = 3 blocks.
  const Occupancy o = occupancy(launch(128, 48 * 1024), resources(80, 32), sm_limits(80));
  EXPECT_EQ(o.shared_bytes_per_block, 50176);
  EXPECT_EQ(o.blocks_by_shared_memory, 3);
  EXPECT_EQ(o.blocks_per_sm, 3);
  EXPECT_EQ(o.warps_per_sm, 12);
  EXPECT_EQ(o.limit, OccupancyLimit::shared_memory);
}

TEST(Occupancy, StaticSharedMemoryCountsWhenTheLaunchSaysLess) {
  // ptxas says 8448 static bytes, the launch says 0: (8448 + 1024) = 9472 -> 233472 / 9472 = 24.
  const Occupancy o = occupancy(launch(256, 0), resources(90, 32, 8448), sm_limits(90));
  EXPECT_EQ(o.shared_bytes_per_block, 9472);
  EXPECT_EQ(o.blocks_by_shared_memory, 24);
  // Shared memory rounds to 128 bytes: 100 + 1024 -> 1152.
  EXPECT_EQ(occupancy(launch(32, 100), resources(90, 16), sm_limits(90)).shared_bytes_per_block, 1152);
}

TEST(Occupancy, BlockCountBindsForSmallBlocks) {
  // 32 threads x 16 registers on sm_80: threads allow 64 blocks, registers 64 (512 per warp,
  // 32 warps per sub-partition... capped by 64 warps anyway), the SM holds 32 blocks.
  const Occupancy o = occupancy(launch(32), resources(80, 16), sm_limits(80));
  EXPECT_EQ(o.blocks_per_sm, 32);
  EXPECT_EQ(o.warps_per_sm, 32);
  EXPECT_EQ(o.fraction, 0.5);
  EXPECT_EQ(o.limit, OccupancyLimit::blocks);
  // sm_86 holds only 16 blocks and 48 warps.
  const Occupancy o86 = occupancy(launch(32), resources(80, 16), sm_limits(86));
  EXPECT_EQ(o86.blocks_per_sm, 16);
  EXPECT_EQ(o86.max_warps_per_sm, 48);
  EXPECT_EQ(o86.limit, OccupancyLimit::blocks);
}

TEST(Occupancy, PartialWarpsCountAsWholeWarps) {
  // 48 threads = 2 warps; 64 / 2 = 32 blocks by threads, 32 by blocks: threads reported first.
  const Occupancy o = occupancy(launch(48), resources(90, 16), sm_limits(90));
  EXPECT_EQ(o.warps_per_block, 2);
  EXPECT_EQ(o.blocks_per_sm, 32);
  EXPECT_EQ(o.limit, OccupancyLimit::threads);
}

TEST(Occupancy, BarriersCanBindOnSm90) {
  // sm_90 has 64 barrier slots; 16 named barriers per block -> 4 blocks (threads allow 16 of 128).
  const Occupancy o = occupancy(launch(128), resources(90, 16, 0, 16), sm_limits(90));
  EXPECT_EQ(o.blocks_by_barriers, 4);
  EXPECT_EQ(o.blocks_per_sm, 4);
  EXPECT_EQ(o.limit, OccupancyLimit::barriers);
  // NVIDIA's calculator sets no barrier limit on 8.x.
  EXPECT_EQ(occupancy(launch(128), resources(80, 16, 0, 16), sm_limits(80)).blocks_by_barriers, INT_MAX);
}

TEST(Occupancy, ImpossibleBlocksAreErrors) {
  EXPECT_THROW(occupancy(launch(2048), resources(90, 16), sm_limits(90)), std::invalid_argument);
  EXPECT_THROW(occupancy(launch(0), resources(90, 16), sm_limits(90)), std::invalid_argument);
  // 1024 threads x 128 registers = 131072 > 65536 per block.
  EXPECT_THROW(occupancy(launch(1024), resources(90, 128), sm_limits(90)), std::invalid_argument);
  EXPECT_THROW(occupancy(launch(128, 228 * 1024), resources(90, 16), sm_limits(90)), std::invalid_argument);
  EXPECT_THROW(occupancy(launch(128), resources(90, 256), sm_limits(90)), std::invalid_argument);
  // sm_90 code does not run on sm_80 (nor sm_80 code on sm_90).
  EXPECT_THROW(occupancy(launch(128), resources(90, 16), sm_limits(80)), std::invalid_argument);
  EXPECT_THROW(occupancy(launch(128), resources(80, 16), sm_limits(90)), std::invalid_argument);
  // But the largest block that fits does: 1024 x 64 = 65536 registers, 1 block.
  EXPECT_EQ(occupancy(launch(1024), resources(90, 64), sm_limits(90)).blocks_per_sm, 1);
}

TEST(Occupancy, Waves) {
  const Occupancy o = occupancy(launch(256), resources(90, 128), sm_limits(90));  // 2 blocks per SM
  EXPECT_EQ(waves(o, 0, 132), 0);
  EXPECT_EQ(waves(o, 264, 132), 1);
  EXPECT_EQ(waves(o, 265, 132), 2);
  EXPECT_EQ(waves(o, 1000, 132), 4);  // ceil(1000 / 264)
  EXPECT_THROW(waves(o, 10, 0), std::invalid_argument);
}

TEST(SmLimits, KnownArchitecturesAndParsing) {
  ASSERT_EQ(known_sm_limits().size(), 4u);
  EXPECT_EQ(sm_limits(80).shared_bytes_per_sm, 167936);
  EXPECT_EQ(sm_limits(90).shared_bytes_per_sm, 233472);
  EXPECT_EQ(sm_limits(89).max_blocks_per_sm, 24);
  EXPECT_EQ(parse_sm_arch("90"), 90);
  EXPECT_EQ(parse_sm_arch("sm_80"), 80);
  EXPECT_EQ(parse_sm_arch("sm86"), 86);
  try {
    parse_sm_arch("75");
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "unknown GPU architecture sm_75; dstack knows sm_80, sm_86, sm_89, sm_90");
  }
  EXPECT_THROW(parse_sm_arch("hopper"), std::invalid_argument);
  EXPECT_THROW(parse_sm_arch(""), std::invalid_argument);
  EXPECT_THROW(parse_sm_arch("90x"), std::invalid_argument);
}

}  // namespace
}  // namespace dstack::kernels
