// Green contexts do what the scheduler relies on: work in a partition of S SMs runs on exactly S
// distinct SMs, and disjoint partitions share none.
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <stdexcept>

#include "runtime/backend/cuda/green_context.h"
#include "runtime/backend/cuda/resources.h"
#include "runtime/backend/cuda/sm_id_probe.h"
#include "test/gpu/gpu_test_env.h"

namespace dstack::cuda {
namespace {

constexpr int kSpinUs = 20;

using GreenContextTest = test::GreenContextFixture;

TEST_F(GreenContextTest, OrdinaryStreamUsesEverySm) {
  Stream s;
  auto ids = distinct_sm_ids(record_sm_ids(s.get(), probe_blocks(), kSpinUs));
  EXPECT_EQ(static_cast<int>(ids.size()), dev_.sm_count);
}

TEST_F(GreenContextTest, EachPartitionSizeRunsOnExactlyThatManySms) {
  const SmPartitionGranularity& g = *dev_.green_contexts;
  for (int k = 1; k <= g.split_groups; ++k) {
    const int size = k * g.split_group_sms;
    auto parts = make_disjoint_partitions(0, {size});
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_EQ(parts[0].sm_count(), size);
    auto ids = distinct_sm_ids(record_sm_ids(parts[0].stream(), probe_blocks(), kSpinUs));
    EXPECT_EQ(static_cast<int>(ids.size()), parts[0].sm_count()) << "partition of " << size << " SMs";
  }
}

TEST_F(GreenContextTest, DisjointPartitionsShareNoSm) {
  const int unit = dev_.green_contexts->split_group_sms;
  const int groups = dev_.green_contexts->split_groups;
  ASSERT_GE(groups, 2);
  // One small and one large partition, together using every group.
  auto parts = make_disjoint_partitions(0, {unit, (groups - 1) * unit});
  ASSERT_EQ(parts.size(), 2u);
  auto a = distinct_sm_ids(record_sm_ids(parts[0].stream(), probe_blocks(), kSpinUs));
  auto b = distinct_sm_ids(record_sm_ids(parts[1].stream(), probe_blocks(), kSpinUs));
  EXPECT_EQ(static_cast<int>(a.size()), parts[0].sm_count());
  EXPECT_EQ(static_cast<int>(b.size()), parts[1].sm_count());
  std::vector<unsigned> both;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(both));
  EXPECT_TRUE(both.empty()) << both.size() << " SMs ran work of both partitions";
}

TEST_F(GreenContextTest, RequestBeyondTheDeviceIsRefusedWithTheAllowedSizes) {
  try {
    make_disjoint_partitions(0, {dev_.sm_count, dev_.sm_count});
    FAIL() << "two whole-GPU partitions on disjoint SMs were accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("multiples of"), std::string::npos) << e.what();
  }
}

TEST_F(GreenContextTest, PartitionsCanBeMadeAndDestroyedRepeatedly) {
  const int unit = dev_.green_contexts->split_group_sms;
  for (int i = 0; i < 20; ++i) {
    auto parts = make_disjoint_partitions(0, {unit, 2 * unit});
    ASSERT_EQ(parts.size(), 2u);
  }
  // The device is still healthy afterwards.
  Stream s;
  EXPECT_EQ(static_cast<int>(distinct_sm_ids(record_sm_ids(s.get(), probe_blocks(), kSpinUs)).size()),
            dev_.sm_count);
}

}  // namespace
}  // namespace dstack::cuda
