// Several layouts held at once: each partition of each layout runs on exactly its SMs, and moving a
// model between layouts is choosing another stream.
#include <gtest/gtest.h>

#include "runtime/backend/cuda/partition_pool.h"
#include "runtime/backend/cuda/sm_id_probe.h"
#include "test/gpu/gpu_test_env.h"

namespace dstack::cuda {
namespace {

constexpr int kSpinUs = 20;

class PartitionPoolTest : public test::GreenContextFixture {
 protected:
  void SetUp() override {
    GreenContextFixture::SetUp();
    if (IsSkipped()) return;
    unit_ = dev_.green_contexts->split_group_sms;
    groups_ = dev_.green_contexts->split_groups;
    if (groups_ < 3) GTEST_SKIP() << "needs at least 3 split groups, the device has " << groups_;
  }
  int unit_ = 0, groups_ = 0;
};

TEST_F(PartitionPoolTest, HoldsOverlappingLayoutsAtOnce) {
  PartitionPool pool(0);
  const PartitionLayout a{{unit_, (groups_ - 1) * unit_}};
  const PartitionLayout b{{2 * unit_, unit_}};
  const int ia = pool.hold(a), ib = pool.hold(b);
  EXPECT_NE(ia, ib);
  EXPECT_EQ(pool.hold(a), ia) << "holding a layout twice must not create it again";
  EXPECT_EQ(pool.layouts_held(), 2);
  EXPECT_GT(pool.creation_ms(ia), 0.0);
  for (int id : {ia, ib}) {
    for (int p = 0; p < pool.partitions(id); ++p) {
      const auto ids = distinct_sm_ids(record_sm_ids(pool.stream(id, p), probe_blocks(), kSpinUs));
      EXPECT_EQ(static_cast<int>(ids.size()), pool.sm_count(id, p)) << "layout " << id << " partition " << p;
      EXPECT_EQ(pool.sm_count(id, p), pool.layout(id).sms[static_cast<size_t>(p)]);
    }
  }
  EXPECT_NE(pool.stream(ia, 0), pool.stream(ib, 0));
}

TEST_F(PartitionPoolTest, WholeGpuLayoutUsesEverySm) {
  PartitionPool pool(0);
  const int id = pool.hold(PartitionLayout{{dev_.sm_count}});
  EXPECT_EQ(pool.sm_count(id, 0), dev_.sm_count);
  const auto ids = distinct_sm_ids(record_sm_ids(pool.stream(id, 0), probe_blocks(), kSpinUs));
  EXPECT_EQ(static_cast<int>(ids.size()), dev_.sm_count);
}

TEST_F(PartitionPoolTest, RefusesWhatDoesNotFitAndBadIds) {
  PartitionPool pool(0);
  EXPECT_THROW(pool.hold(PartitionLayout{{groups_ * unit_, unit_}}), std::invalid_argument);
  EXPECT_EQ(pool.layouts_held(), 0);
  EXPECT_THROW(pool.stream(0, 0), std::out_of_range);
  const int id = pool.hold(PartitionLayout{{unit_}});
  EXPECT_THROW(pool.stream(id, 1), std::out_of_range);
}

}  // namespace
}  // namespace dstack::cuda
