// The device peaks bench_kernels reports fractions of (bench/device_peak.h), against datasheets.
#include <gtest/gtest.h>

#include "bench/device_peak.h"

namespace dstack::bench {
namespace {

GpuDevice device(int sms, int cc_major, int cc_minor, int sm_clock_mhz, int mem_clock_mhz, int bus_bits) {
  GpuDevice d;
  d.sm_count = sms;
  d.cc_major = cc_major;
  d.cc_minor = cc_minor;
  d.sm_clock_khz = sm_clock_mhz * 1000;
  d.memory_clock_khz = mem_clock_mhz * 1000;
  d.memory_bus_width_bits = bus_bits;
  return d;
}

TEST(DevicePeak, H100SxmMatchesTheDatasheet) {
  // NVIDIA H100 SXM5 datasheet: 67 TFLOP/s FP32, 3.35 TB/s HBM3.
  const DevicePeak p = device_peak(device(132, 9, 0, 1980, 2619, 5120));
  EXPECT_NEAR(p.fp32_flops * 1e-12, 66.9, 0.1);
  EXPECT_NEAR(p.dram_bytes_per_s * 1e-12, 3.35, 0.01);
}

TEST(DevicePeak, A100MatchesTheDatasheet) {
  // NVIDIA A100 SXM4 40GB datasheet: 19.5 TFLOP/s FP32, 1.555 TB/s HBM2.
  const DevicePeak p = device_peak(device(108, 8, 0, 1410, 1215, 5120));
  EXPECT_NEAR(p.fp32_flops * 1e-12, 19.5, 0.05);
  EXPECT_NEAR(p.dram_bytes_per_s * 1e-12, 1.555, 0.001);
}

TEST(DevicePeak, LanesByComputeCapability) {
  EXPECT_EQ(fp32_lanes_per_sm(7, 0), 64);
  EXPECT_EQ(fp32_lanes_per_sm(8, 0), 64);
  EXPECT_EQ(fp32_lanes_per_sm(8, 6), 128);
  EXPECT_EQ(fp32_lanes_per_sm(8, 9), 128);
  EXPECT_EQ(fp32_lanes_per_sm(9, 0), 128);
  EXPECT_FALSE(fp32_lanes_per_sm(3, 5)) << "unknown capabilities report no peak rather than a guess";
  EXPECT_EQ(device_peak(device(10, 3, 5, 1000, 1000, 64)).fp32_flops, 0.0);
}

}  // namespace
}  // namespace dstack::bench
