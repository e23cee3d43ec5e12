// The device description a GPU run plans with: the shipped file for the GPU's name, adjusted to the
// SM count and green-context granularity the driver reports, each adjustment said.
#include <gtest/gtest.h>

#include "runtime/sim/device_match.h"

namespace dstack::sim {
namespace {

GpuDevice gpu(const std::string& name, int sms, int groups) {
  GpuDevice d;
  d.name = name;
  d.sm_count = sms;
  d.total_memory_bytes = 0;  // unknown: no memory note
  SmPartitionGranularity g;
  g.sm_count = sms;
  g.min_partition_sms = 8;
  g.coscheduled_alignment = 8;
  g.split_group_sms = 8;
  g.split_groups = groups;
  d.green_contexts = g;
  return d;
}

TEST(DeviceMatch, NamesMapToShippedFiles) {
  EXPECT_EQ(device_name_for_gpu("NVIDIA H200"), "h200");
  EXPECT_EQ(device_name_for_gpu("NVIDIA H100 80GB HBM3"), "h100_sxm");
  EXPECT_EQ(device_name_for_gpu("NVIDIA A100-SXM4-80GB"), "a100");
  EXPECT_EQ(device_name_for_gpu("Tesla V100-SXM2-16GB"), "v100");
  EXPECT_EQ(device_name_for_gpu("Tesla T4"), "t4");
  EXPECT_EQ(device_name_for_gpu("NVIDIA L4"), "");
}

TEST(DeviceMatch, AGpuAsTheFileDescribesItNeedsNoAdjustment) {
  const MatchedDevice m = match_device(gpu("NVIDIA H200", 132, 15));
  EXPECT_EQ(m.spec.name, "h200");
  EXPECT_TRUE(m.notes.empty()) << m.notes.front();
}

TEST(DeviceMatch, ADifferentSkuKeepsPerSmRatesAndTakesTheDriversGranularity) {
  const DeviceSpec file = load_device("h100_sxm");
  const MatchedDevice m = match_device(gpu("NVIDIA H100 PCIe", 114, 14));
  EXPECT_EQ(m.spec.sm_count, 114);
  EXPECT_EQ(m.spec.split_groups, 14);
  EXPECT_DOUBLE_EQ(m.spec.fp32_flops_per_sm(), file.fp32_flops_per_sm());
  EXPECT_DOUBLE_EQ(m.spec.dram_bandwidth_gbs, file.dram_bandwidth_gbs);
  EXPECT_EQ(m.spec.granularity().partition_sizes.back(), 114);
  ASSERT_EQ(m.notes.size(), 2u);
  EXPECT_NE(m.notes[0].find("has SM count 132, the GPU reports 114: using 114"), std::string::npos) << m.notes[0];
  EXPECT_NE(m.notes[1].find("has split groups 15, the GPU reports 14: using 14"), std::string::npos) << m.notes[1];
}

TEST(DeviceMatch, UnknownGpusAndGpusWithoutGreenContextsAreRefused) {
  try {
    match_device(gpu("NVIDIA L4", 58, 7));
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no shipped device description matches the GPU 'NVIDIA L4' (shipped: a100, "),
              std::string::npos)
        << e.what();
  }
  GpuDevice old = gpu("NVIDIA A100-SXM4-80GB", 108, 27);
  old.green_contexts.reset();
  old.green_context_error = "driver too old";
  EXPECT_THROW(match_device(old), std::invalid_argument);
}

}  // namespace
}  // namespace dstack::sim
