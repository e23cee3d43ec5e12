#include <gtest/gtest.h>

#include "runtime/backend/partition_layout.h"

namespace dstack {
namespace {

// What an H100 reports (results/gpu-check/h100-80gb-hbm3/info.log): 132 SMs, 15 groups of 8.
SmPartitionGranularity h100() {
  SmPartitionGranularity g;
  g.sm_count = 132;
  g.min_partition_sms = 8;
  g.coscheduled_alignment = 8;
  g.split_group_sms = 8;
  g.split_groups = 15;
  return g;
}

TEST(PartitionLayout, RoundsUpToWholeGroupsOnConsecutiveGroups) {
  const ResolvedLayout r = resolve_layout({{60, 9, 8}}, h100());
  ASSERT_EQ(r.partitions.size(), 3u);
  EXPECT_EQ(r.partitions[0].sms, 64);
  EXPECT_EQ(r.partitions[0].first_group, 0);
  EXPECT_EQ(r.partitions[0].groups, 8);
  EXPECT_EQ(r.partitions[1].sms, 16);
  EXPECT_EQ(r.partitions[1].first_group, 8);
  EXPECT_EQ(r.partitions[2].sms, 8);
  EXPECT_EQ(r.partitions[2].first_group, 10);
  EXPECT_FALSE(r.whole_gpu);
  EXPECT_EQ(r.total_sms(), 88);
}

TEST(PartitionLayout, WholeGpuOnlyAlone) {
  const ResolvedLayout r = resolve_layout({{132}}, h100());
  EXPECT_TRUE(r.whole_gpu);
  EXPECT_EQ(r.total_sms(), 132);
  EXPECT_THROW(resolve_layout({{132, 8}}, h100()), std::invalid_argument);
}

TEST(PartitionLayout, ErrorsNameTheLimits) {
  try {
    resolve_layout({{64, 64}}, h100());  // 16 groups, 15 exist
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[64, 64] does not fit"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("15 groups"), std::string::npos) << e.what();
  }
  EXPECT_THROW(resolve_layout({{0}}, h100()), std::invalid_argument);
  EXPECT_THROW(resolve_layout({{133}}, h100()), std::invalid_argument);
  EXPECT_THROW(resolve_layout({{}}, h100()), std::invalid_argument);
  EXPECT_THROW(resolve_layout({{8}}, SmPartitionGranularity{}), std::invalid_argument);
  EXPECT_NO_THROW(resolve_layout({{64, 56}}, h100()));
}

TEST(PartitionLayout, ParsesAndPrints) {
  EXPECT_EQ(parse_layout("64,32,24").sms, (std::vector<int>{64, 32, 24}));
  EXPECT_EQ(parse_layout("40+92").sms, (std::vector<int>{40, 92}));
  EXPECT_EQ(layout_str(parse_layout("8")), "[8]");
  for (const char* bad : {"", ",", "64,", "a", "64,,8", "6 4", "-"})
    EXPECT_THROW(parse_layout(bad), std::invalid_argument) << bad;
}

}  // namespace
}  // namespace dstack
