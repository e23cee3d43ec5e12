// The RAII owner behind every CUDA handle, exercised with a fake handle type so it runs anywhere.
#include <gtest/gtest.h>

#include <type_traits>
#include <vector>

#include "runtime/backend/cuda/unique_handle.h"

namespace dstack::cuda {
namespace {

std::vector<int> released;

struct RecordRelease {
  void operator()(int h) const noexcept { released.push_back(h); }
};
using Owned = UniqueHandle<int, RecordRelease>;

class UniqueHandleTest : public ::testing::Test {
 protected:
  void SetUp() override { released.clear(); }
};

TEST_F(UniqueHandleTest, ReleasesOnceAtScopeEnd) {
  { Owned a(7); }
  EXPECT_EQ(released, std::vector<int>{7});
}

TEST_F(UniqueHandleTest, EmptyHandleIsNotReleased) {
  { Owned a; }
  EXPECT_TRUE(released.empty());
}

TEST_F(UniqueHandleTest, MoveTransfersOwnership) {
  {
    Owned a(3);
    Owned b(std::move(a));
    EXPECT_FALSE(a);
    EXPECT_EQ(b.get(), 3);
    EXPECT_TRUE(released.empty());
  }
  EXPECT_EQ(released, std::vector<int>{3});
}

TEST_F(UniqueHandleTest, MoveAssignReleasesThePreviousHandle) {
  Owned a(1);
  Owned b(2);
  b = std::move(a);
  EXPECT_EQ(released, std::vector<int>{2});
  EXPECT_EQ(b.get(), 1);
}

TEST_F(UniqueHandleTest, ReleaseGivesUpOwnership) {
  Owned a(5);
  EXPECT_EQ(a.release(), 5);
  a.reset();
  EXPECT_TRUE(released.empty());
}

TEST(UniqueHandleTraits, CopyIsDeletedAndMovesDoNotThrow) {
  EXPECT_FALSE(std::is_copy_constructible_v<Owned>);
  EXPECT_FALSE(std::is_copy_assignable_v<Owned>);
  EXPECT_TRUE(std::is_nothrow_move_constructible_v<Owned>);
  EXPECT_TRUE(std::is_nothrow_destructible_v<Owned>);
}

}  // namespace
}  // namespace dstack::cuda
