#include <gtest/gtest.h>

#include "test/gpu/gpu_test_env.h"

namespace dstack {
namespace {

TEST(GpuProbe, DeviceFactsAreSane) {
  DSTACK_REQUIRE_GPU();
  const GpuDevice& d = test::gpu_report().devices.at(0);
  EXPECT_FALSE(d.name.empty());
  EXPECT_GT(d.sm_count, 0);
  EXPECT_GE(d.cc_major, 7);
  EXPECT_GT(d.total_memory_bytes, 1ull << 30);
  EXPECT_GE(d.max_threads_per_sm, 1024);
  EXPECT_GE(d.registers_per_sm, 32768);
  EXPECT_GT(d.l2_cache_bytes, 0u);
}

TEST(GpuProbe, GreenContextGranularityComesFromTheDriver) {
  DSTACK_REQUIRE_GPU();
  const GpuDevice& d = test::gpu_report().devices.at(0);
  ASSERT_TRUE(d.green_contexts.has_value()) << d.green_context_error;
  const SmPartitionGranularity& g = *d.green_contexts;
  EXPECT_EQ(g.sm_count, d.sm_count);
  EXPECT_GE(g.min_partition_sms, 1);
  EXPECT_GE(g.coscheduled_alignment, 1);
  ASSERT_GE(g.partition_sizes.size(), 2u);
  EXPECT_GE(g.partition_sizes.front(), g.min_partition_sms);
  EXPECT_EQ(g.partition_sizes.back(), d.sm_count);
  EXPECT_GE(g.split_group_sms, g.min_partition_sms);
  EXPECT_LE(g.split_groups * g.split_group_sms, g.sm_count);
  EXPECT_EQ(static_cast<int>(g.partition_sizes.size()), g.split_groups + (g.split_groups * g.split_group_sms < g.sm_count));
  for (std::size_t i = 1; i < g.partition_sizes.size(); ++i) EXPECT_LT(g.partition_sizes[i - 1], g.partition_sizes[i]);
  std::cout << "[ info ] " << d.name << ": min partition " << g.min_partition_sms << ", alignment "
            << g.coscheduled_alignment << ", " << g.split_groups << " groups of " << g.split_group_sms << " SMs\n";
}

}  // namespace
}  // namespace dstack
