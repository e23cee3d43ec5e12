// kernels/occupancy.h against NVIDIA's own occupancy calculator (the toolkit's header-only
// cuda_occupancy.h, plain host C: no runtime, no device) on a sweep of block sizes, registers,
// shared memory and barriers for every architecture dstack knows. Built only where the toolkit is.
#include <gtest/gtest.h>
// The header's functions are static inline and not all are used here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wpedantic"
#include <cuda_occupancy.h>
#pragma GCC diagnostic pop

#include <stdexcept>
#include <string>

#include "kernels/occupancy.h"

namespace dstack::kernels {
namespace {

cudaOccDeviceProp device_of(const SmLimits& sm) {
  cudaOccDeviceProp p;
  p.computeMajor = sm.arch / 10;
  p.computeMinor = sm.arch % 10;
  p.maxThreadsPerBlock = sm.max_threads_per_block;
  p.maxThreadsPerMultiprocessor = sm.max_threads_per_sm;
  p.regsPerBlock = sm.max_registers_per_block;
  p.regsPerMultiprocessor = sm.registers_per_sm;
  p.warpSize = sm.warp_size;
  p.sharedMemPerBlock = 48 * 1024;
  p.sharedMemPerMultiprocessor = static_cast<size_t>(sm.shared_bytes_per_sm);
  p.numSms = 100;
  p.sharedMemPerBlockOptin = static_cast<size_t>(sm.max_shared_bytes_per_block);
  p.reservedSharedMemPerBlock = static_cast<size_t>(sm.reserved_shared_bytes_per_block);
  return p;
}

unsigned oracle_bit(OccupancyLimit l) {
  switch (l) {
    case OccupancyLimit::threads: return OCC_LIMIT_WARPS;
    case OccupancyLimit::blocks: return OCC_LIMIT_BLOCKS;
    case OccupancyLimit::registers: return OCC_LIMIT_REGISTERS;
    case OccupancyLimit::shared_memory: return OCC_LIMIT_SHARED_MEMORY;
    case OccupancyLimit::barriers: return OCC_LIMIT_BARRIERS;
  }
  return 0;
}

TEST(OccupancyOracle, AgreesWithCudaOccupancyCalculator) {
  const unsigned threads_list[] = {32, 48, 64, 96, 100, 128, 192, 256, 384, 512, 640, 768, 1024};
  const int regs_list[] = {8, 16, 24, 32, 33, 40, 48, 56, 64, 72, 80, 96, 112, 128, 168, 195, 200, 238, 254, 255};
  const int smem_list[] = {0, 32, 1000, 8448, 27136, 48 * 1024, 60000, 100000, 160000, 230000};
  int compared = 0, impossible = 0;
  for (const SmLimits& sm : known_sm_limits()) {
    const cudaOccDeviceProp prop = device_of(sm);
    const cudaOccDeviceState state;  // default carveout and cache preference
    for (unsigned threads : threads_list)
      for (int regs : regs_list)
        for (int smem : smem_list)
          for (int barriers : {0, 1, 4}) {
            SCOPED_TRACE("sm_" + std::to_string(sm.arch) + " threads " + std::to_string(threads) + " regs " +
                         std::to_string(regs) + " smem " + std::to_string(smem) + " barriers " +
                         std::to_string(barriers));
            cudaOccFuncAttributes attr;
            attr.maxThreadsPerBlock = sm.max_threads_per_block;
            attr.numRegs = regs;
            attr.sharedSizeBytes = static_cast<size_t>(smem);
            attr.shmemLimitConfig = FUNC_SHMEM_LIMIT_OPTIN;
            attr.maxDynamicSharedSizeBytes = static_cast<size_t>(sm.max_shared_bytes_per_block);
            attr.numBlockBarriers = barriers;
            cudaOccResult result;
            ASSERT_EQ(
                cudaOccMaxActiveBlocksPerMultiprocessor(&result, &prop, &attr, &state, static_cast<int>(threads), 0),
                CUDA_OCC_SUCCESS);

            LaunchGeometry g{std::string("k"), Dim3{1, 1, 1}, Dim3{threads, 1, 1}, 0};
            KernelResources r;
            r.arch = sm.arch / 10 * 10;  // the code an sm_86 or sm_89 runs is sm_80's
            r.registers = regs;
            r.shared_bytes = smem;
            r.barriers = barriers;
            try {
              const Occupancy o = occupancy(g, r, sm);
              EXPECT_EQ(o.blocks_per_sm, result.activeBlocksPerMultiprocessor);
              EXPECT_EQ(o.registers_per_block, result.allocatedRegistersPerBlock);
              EXPECT_EQ(static_cast<size_t>(o.shared_bytes_per_block), result.allocatedSharedMemPerBlock);
              EXPECT_NE(result.limitingFactors & oracle_bit(o.limit), 0u) << occupancy_limit_name(o.limit);
              ++compared;
            } catch (const std::invalid_argument&) {
              // dstack calls a block that cannot run an error; the calculator gives it 0 blocks.
              EXPECT_EQ(result.activeBlocksPerMultiprocessor, 0);
              ++impossible;
            }
          }
  }
  EXPECT_GT(compared, 10000);
  EXPECT_GT(impossible, 0);
}

}  // namespace
}  // namespace dstack::kernels
