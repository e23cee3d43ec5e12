// Launch geometry and index maps of the CUDA normalization kernels (kernels/normalization.h).
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernels/normalization.h"

namespace dstack::kernels {
namespace {

void expect_legal_row_geometry(const LaunchGeometry& g, int64_t rows, int64_t cols) {
  SCOPED_TRACE("rows=" + std::to_string(rows) + " cols=" + std::to_string(cols));
  EXPECT_EQ(g.block.x % 32, 0u);
  EXPECT_GE(g.block.x, 32u);
  EXPECT_LE(g.block.x, unsigned(kNormMaxThreads));
  EXPECT_EQ(g.block.y, 1u);
  EXPECT_EQ(g.block.z, 1u);
  EXPECT_LE(g.shared_bytes, 48u * 1024u);
  EXPECT_GE(g.shared_bytes, sizeof(float) * norm_warps(int(g.block.x)));
  EXPECT_EQ(g.grid.y, 1u);
  EXPECT_EQ(g.grid.z, 1u);
  // One block per row (grid-striding past the cap); never more blocks than rows.
  EXPECT_GE(g.grid.x, 1u);
  EXPECT_LE(int64_t(g.grid.x), rows);
  if (rows <= int64_t(kNormMaxRowBlocks)) {
    EXPECT_EQ(int64_t(g.grid.x), rows);
  }
  // Short rows get no more threads than whole warps covering them.
  if (cols <= kNormMaxThreads) {
    EXPECT_LT(int64_t(g.block.x) - 32, cols);
  }
}

TEST(NormalizationLaunch, RowKernelsHaveLegalGeometryForOddShapes) {
  const int64_t sizes[] = {1, 2, 31, 32, 33, 100, 255, 256, 257, 1000, 5000};
  for (int64_t rows : sizes)
    for (int64_t cols : sizes) {
      const LaunchGeometry s = softmax_launch(rows, cols), l = layernorm_launch(rows, cols);
      EXPECT_EQ(s.kernel, "softmax_rows<float>");
      EXPECT_EQ(l.kernel, "layernorm_rows<float>");
      expect_legal_row_geometry(s, rows, cols);
      expect_legal_row_geometry(l, rows, cols);
    }
  EXPECT_EQ(softmax_launch(int64_t(kNormMaxRowBlocks) * 3, 10).grid.x, kNormMaxRowBlocks);
}

TEST(NormalizationLaunch, RowThreadsRoundColsUpToWarps) {
  EXPECT_EQ(norm_row_threads(0), 32);
  EXPECT_EQ(norm_row_threads(1), 32);
  EXPECT_EQ(norm_row_threads(32), 32);
  EXPECT_EQ(norm_row_threads(33), 64);
  EXPECT_EQ(norm_row_threads(200), 224);
  EXPECT_EQ(norm_row_threads(256), 256);
  EXPECT_EQ(norm_row_threads(100000), 256);
  EXPECT_EQ(norm_warps(32), 1);
  EXPECT_EQ(norm_warps(256), 8);
  EXPECT_LE(size_t(norm_warps(kNormMaxThreads)) * sizeof(float), kNormSharedBytes);
}

TEST(NormalizationLaunch, EmptyWorkGivesAnEmptyGridAndNegativeSizesThrow) {
  EXPECT_EQ(softmax_launch(0, 5).grid.count(), 0u);
  EXPECT_EQ(softmax_launch(5, 0).grid.count(), 0u);
  EXPECT_EQ(layernorm_launch(0, 5).grid.count(), 0u);
  EXPECT_EQ(reduce_mean_launch(0, 5, 5).grid.count(), 0u);
  EXPECT_EQ(reduce_mean_launch(5, 5, 0).grid.count(), 0u);
  EXPECT_THROW(softmax_launch(-1, 5), std::invalid_argument);
  EXPECT_THROW(layernorm_launch(5, -1), std::invalid_argument);
  EXPECT_THROW(reduce_mean_launch(1, -1, 1), std::invalid_argument);
}

TEST(NormalizationLaunch, ReduceMeanGridCoversEveryOutput) {
  const int64_t sizes[] = {1, 3, 255, 256, 257, 1000};
  for (int64_t outer : sizes)
    for (int64_t inner : sizes) {
      const LaunchGeometry g = reduce_mean_launch(outer, 7, inner);
      EXPECT_EQ(g.kernel, "reduce_mean<float>");
      EXPECT_EQ(g.block.x, unsigned(kReduceMeanThreads));
      EXPECT_LE(g.block.count(), 1024u);
      const int64_t threads = int64_t(g.grid.x) * g.block.x;
      EXPECT_GE(threads, outer * inner);            // one output per thread below the cap
      EXPECT_LT(threads - g.block.x, outer * inner);  // no wholly idle block
    }
  const LaunchGeometry big = reduce_mean_launch(int64_t(1) << 30, 2, 64);
  EXPECT_EQ(big.grid.x, kReduceMeanMaxBlocks);  // the kernel grid-strides over the rest
}

TEST(NormalizationIndex, ReduceMeanSplitAndOffsetMatchRowMajor) {
  const int64_t outer = 3, reduce = 4, inner = 5;
  std::vector<int> hits(size_t(outer * reduce * inner), 0);
  for (int64_t idx = 0; idx < outer * inner; ++idx) {
    const ReduceMeanIndex t = reduce_mean_split(idx, inner);
    EXPECT_EQ(t.o * inner + t.i, idx);
    EXPECT_LT(t.i, inner);
    EXPECT_LT(t.o, outer);
    for (int64_t r = 0; r < reduce; ++r) {
      const int64_t off = reduce_mean_offset(t.o, r, t.i, reduce, inner);
      ASSERT_GE(off, 0);
      ASSERT_LT(off, outer * reduce * inner);
      ++hits[size_t(off)];
    }
  }
  for (int h : hits) EXPECT_EQ(h, 1);  // every input read exactly once
  EXPECT_EQ(reduce_mean_offset(2, 3, 4, reduce, inner), (2 * reduce + 3) * inner + 4);
}

TEST(NormalizationLaunch, PrecisionNamesTheStorageType) {
  const std::pair<Precision, std::string> cases[] = {
      {Precision::F32, "float"}, {Precision::F16, "__half"}, {Precision::BF16, "__nv_bfloat16"}};
  for (const auto& [p, type] : cases) {
    SCOPED_TRACE(precision_name(p));
    const LaunchGeometry s = softmax_launch(33, 257, p), l = layernorm_launch(33, 257, p);
    EXPECT_EQ(s.kernel, "softmax_rows<" + type + ">");
    EXPECT_EQ(l.kernel, "layernorm_rows<" + type + ">");
    expect_legal_row_geometry(s, 33, 257);
    expect_legal_row_geometry(l, 33, 257);
    EXPECT_EQ(s.block.x, softmax_launch(33, 257).block.x);
    EXPECT_EQ(reduce_mean_launch(3, 7, 100, p).kernel, "reduce_mean<" + type + ">");
    EXPECT_EQ(reduce_mean_launch(3, 7, 100, p).grid.x, reduce_mean_launch(3, 7, 100).grid.x);
    EXPECT_THROW(softmax_launch(-1, 5, p), std::invalid_argument);
  }
}

}  // namespace
}  // namespace dstack::kernels
