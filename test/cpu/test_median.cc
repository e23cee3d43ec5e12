// The median helper (runtime/core/median.h) that profiles, validation and knee reports share.
#include <gtest/gtest.h>

#include "runtime/core/median.h"

namespace dstack {
namespace {

TEST(Median, OddEvenEmptyAndUnsorted) {
  EXPECT_DOUBLE_EQ(median({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(median({4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(median({7}), 7);
  EXPECT_DOUBLE_EQ(median({}), 0);
  EXPECT_DOUBLE_EQ(median({5, 5, 1, 9, 9, 1}), 5);
  EXPECT_DOUBLE_EQ(median({-1, 10}), 4.5);
}

}  // namespace
}  // namespace dstack
