#include <gtest/gtest.h>

#include "dstack_build_config.h"
#include "runtime/core/build_info.h"

namespace dstack {
namespace {

TEST(BuildInfo, VersionAndCommitAreFilled) {
  const BuildInfo& b = build_info();
  EXPECT_EQ(b.version, DSTACK_VERSION);
  EXPECT_FALSE(b.commit.empty());
  EXPECT_FALSE(b.build_type.empty());
}

TEST(BuildInfo, CudaFactsAgreeWithTheBuild) {
  const BuildInfo& b = build_info();
#ifdef DSTACK_HAVE_CUDA
  EXPECT_TRUE(b.cuda_compiled);
  EXPECT_FALSE(b.cuda_toolkit_version.empty());
  ASSERT_FALSE(b.cuda_architectures.empty());
  for (int arch : b.cuda_architectures) EXPECT_GE(arch, 50) << "architectures parse as compute capabilities";
#else
  EXPECT_FALSE(b.cuda_compiled);
  EXPECT_TRUE(b.cuda_architectures.empty());
#endif
}

}  // namespace
}  // namespace dstack
