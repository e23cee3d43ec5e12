// Launch geometry of the fp32 <-> fp16 / bf16 conversion kernel (kernels/convert.h), on the CPU.
#include <gtest/gtest.h>

#include <cstdint>

#include "kernels/convert.h"

namespace dstack::kernels {
namespace {

TEST(ConvertLaunch, NamesBothTypesAndStridesTheGrid) {
  const LaunchGeometry g = convert_launch(1000, Precision::F32, Precision::F16);
  EXPECT_EQ(g.kernel, "convert_elements<float, __half>");
  EXPECT_EQ(g.grid.x, 4u);
  EXPECT_EQ(g.block.x, kConvertBlock);
  EXPECT_EQ(g.shared_bytes, 0u);
  EXPECT_EQ(convert_launch(1, Precision::BF16, Precision::F32).kernel, "convert_elements<__nv_bfloat16, float>");
  EXPECT_EQ(convert_launch(0, Precision::F32, Precision::BF16).grid.x, 0u);
  EXPECT_EQ(convert_launch(int64_t(1) << 40, Precision::F16, Precision::F32).grid.x, kConvertGridCap);
}

}  // namespace
}  // namespace dstack::kernels
