// Tensor-ops CUDA side, on the CPU: launch geometry, and the kernels' index math (kernels/tensor_ops.h)
// replayed element by element against the CPU reference on odd shapes (data movement: exact).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernels/tensor_ops.h"
#include "test/kernels/test_data.h"
#include "test/kernels/tolerance.h"

namespace dstack::kernels {
namespace {

using ktest::element_count;
using ktest::expect_close;
using ktest::kExact;
using ktest::random_vector;

// What strided_copy<T> computes; every source offset must fall inside x.
std::vector<float> emulate_strided(const StridedIndexer& ix, int64_t count, const std::vector<float>& x) {
  std::vector<float> y(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t src = ix.offset(i);
    EXPECT_GE(src, 0);
    EXPECT_LT(src, int64_t(x.size()));
    if (src < 0 || src >= int64_t(x.size())) return {};
    y[size_t(i)] = x[size_t(src)];
  }
  return y;
}

TEST(TensorOpsLaunch, TransposeIndexerMatchesTheReference) {
  struct Case {
    std::vector<int64_t> shape;
    std::vector<int> perm;
  };
  const std::vector<Case> cases = {
      {{2, 3, 4, 5}, {0, 2, 3, 1}}, {{2, 3, 4, 5}, {3, 2, 1, 0}}, {{2, 3, 4, 5}, {1, 0, 3, 2}},
      {{1, 3, 1, 5}, {2, 3, 0, 1}}, {{7, 1}, {1, 0}},             {{5}, {0}},
      {{}, {}},                     {{3, 4}, {0, 1}},             {{2, 1, 3, 1, 2, 1, 2, 2}, {7, 6, 5, 4, 3, 2, 1, 0}},
  };
  uint32_t seed = 1;
  for (const Case& c : cases) {
    SCOPED_TRACE("case " + std::to_string(seed));
    const std::vector<float> x = random_vector(element_count(c.shape), seed++);
    std::vector<float> ref(x.size());
    transpose_ref(c.shape, c.perm, x.data(), ref.data());
    const StridedIndexer ix = make_transpose_indexer(c.shape, c.perm);
    expect_close(ref, emulate_strided(ix, int64_t(x.size()), x), kExact, kExact);
  }
}

TEST(TensorOpsLaunch, SliceIndexerMatchesTheReference) {
  struct Case {
    std::vector<int64_t> shape, starts, ends, steps;
  };
  const std::vector<Case> cases = {
      {{4, 5, 6}, {1, 0, 2}, {4, 5, 6}, {1, 2, 3}},
      {{4, 5, 6}, {0, 1, 5}, {4, 4, 6}, {3, 1, 1}},
      {{2, 3, 4, 5}, {1, 1, 0, 1}, {2, 3, 4, 5}, {1, 2, 3, 4}},
      {{9}, {2}, {9}, {7}},
      {{1, 1, 7}, {0, 0, 6}, {1, 1, 7}, {1, 1, 1}},
      {{3, 8}, {0, 0}, {3, 8}, {1, 1}},
      {{}, {}, {}, {}},
  };
  uint32_t seed = 10;
  for (const Case& c : cases) {
    SCOPED_TRACE("case " + std::to_string(seed));
    const std::vector<float> x = random_vector(element_count(c.shape), seed++);
    const std::vector<int64_t> out = slice_out_shape(c.starts, c.ends, c.steps);
    std::vector<float> ref(static_cast<size_t>(element_count(out)));
    slice_ref(c.shape, c.starts, c.ends, c.steps, x.data(), ref.data());
    const StridedIndexer ix = make_slice_indexer(c.shape, c.starts, c.ends, c.steps);
    expect_close(ref, emulate_strided(ix, element_count(out), x), kExact, kExact);
  }
  EXPECT_EQ(slice_out_shape({0, 3, 5}, {7, 3, 2}, {3, 1, 1}), (std::vector<int64_t>{3, 0, 0}));
}

TEST(TensorOpsLaunch, PadIndexerMatchesTheReference) {
  struct Case {
    std::vector<int64_t> shape, begin, end;
  };
  const std::vector<Case> cases = {
      {{2, 3, 4}, {0, 1, 2}, {1, 0, 3}}, {{1, 2, 3, 4}, {0, 0, 1, 1}, {0, 0, 1, 1}}, {{5}, {3}, {0}},
      {{5}, {0}, {0}},                   {{1, 1}, {2, 0}, {0, 3}},                   {{}, {}, {}},
      {{2, 2, 1, 1, 1, 1, 1, 2}, {1, 0, 1, 0, 1, 0, 1, 0}, {0, 1, 0, 1, 0, 1, 0, 1}},
  };
  uint32_t seed = 20;
  for (const Case& c : cases) {
    SCOPED_TRACE("case " + std::to_string(seed));
    const std::vector<float> x = random_vector(element_count(c.shape), seed++);
    std::vector<int64_t> out(c.shape.size());
    for (size_t d = 0; d < out.size(); ++d) out[d] = c.begin[d] + c.shape[d] + c.end[d];
    std::vector<float> ref(static_cast<size_t>(element_count(out))), got(ref.size());
    pad_ref(c.shape, c.begin, c.end, -7.5f, x.data(), ref.data());
    const PadIndexer ix = make_pad_indexer(c.shape, c.begin, c.end);
    for (int64_t i = 0; i < int64_t(got.size()); ++i) {
      const int64_t src = ix.source(i);
      ASSERT_GE(src, -1);
      ASSERT_LT(src, int64_t(x.size()));
      got[size_t(i)] = src >= 0 ? x[size_t(src)] : -7.5f;
    }
    expect_close(ref, got, kExact, kExact);
  }
}

TEST(TensorOpsLaunch, ConcatDestinationMatchesTheReference) {
  const std::vector<std::vector<int64_t>> base = {{2, 3, 4}, {2, 3, 4}, {2, 3, 4}};
  for (int axis = 0; axis < 3; ++axis) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    std::vector<std::vector<int64_t>> shapes = base;
    shapes[0][size_t(axis)] = 1;
    shapes[2][size_t(axis)] = 5;
    std::vector<std::vector<float>> xs;
    std::vector<const float*> ptrs;
    for (size_t i = 0; i < shapes.size(); ++i) xs.push_back(random_vector(element_count(shapes[i]), uint32_t(30 + i)));
    for (const auto& x : xs) ptrs.push_back(x.data());
    int64_t total = 0;
    for (const auto& x : xs) total += int64_t(x.size());
    std::vector<float> ref(static_cast<size_t>(total)), got(ref.size(), NAN);
    concat_ref(shapes, ptrs, axis, ref.data());
    // As concat_cuda: outer / inner off the axis, one pass per input at its column offset.
    int64_t outer = 1, inner = 1, y_axis = 0;
    for (int d = 0; d < axis; ++d) outer *= base[0][size_t(d)];
    for (int d = axis + 1; d < 3; ++d) inner *= base[0][size_t(d)];
    for (const auto& s : shapes) y_axis += s[size_t(axis)];
    int64_t col = 0;
    for (size_t i = 0; i < shapes.size(); ++i) {
      const int64_t chunk = shapes[i][size_t(axis)] * inner;
      for (int64_t e = 0; e < outer * chunk; ++e) {
        const int64_t dst = concat_dest_offset(e, chunk, y_axis * inner, col);
        ASSERT_GE(dst, 0);
        ASSERT_LT(dst, total);
        got[size_t(dst)] = xs[i][size_t(e)];
      }
      col += chunk;
    }
    expect_close(ref, got, kExact, kExact);
  }
}

TEST(TensorOpsLaunch, GatherIndexTestMatchesTheReference) {
  const int64_t rows = 5, dim = 2;
  const std::vector<float> table = random_vector(rows * dim, 40);
  const float bad_values[] = {-1.f, 5.f, 2.5f, NAN, INFINITY, -INFINITY, 1e9f, -0.5f, 4.0001f};
  const float good_values[] = {0.f, -0.f, 4.f, 3.f};
  for (float v : bad_values) {
    EXPECT_FALSE(gather_row_index_ok(v, float(rows))) << v;
    const float idx[] = {1.f, v};
    std::vector<float> y(4);
    EXPECT_EQ(gather_rows_ref(rows, dim, table.data(), 2, idx, y.data()), 1) << v;
  }
  for (float v : good_values) {
    EXPECT_TRUE(gather_row_index_ok(v, float(rows))) << v;
    std::vector<float> y(2);
    EXPECT_EQ(gather_rows_ref(rows, dim, table.data(), 1, &v, y.data()), -1) << v;
  }
}

TEST(TensorOpsLaunch, IndexersRejectWhatTheKernelsCannotDo) {
  const std::vector<int64_t> rank9(9, 1);
  EXPECT_THROW(make_transpose_indexer(rank9, {0, 1, 2, 3, 4, 5, 6, 7, 8}), std::invalid_argument);
  EXPECT_THROW(make_transpose_indexer({2, 3}, {0, 0}), std::invalid_argument);
  EXPECT_THROW(make_transpose_indexer({2, 3}, {0}), std::invalid_argument);
  EXPECT_THROW(make_transpose_indexer({2, 3}, {0, 2}), std::invalid_argument);
  EXPECT_THROW(make_slice_indexer(rank9, std::vector<int64_t>(9, 0), rank9, rank9), std::invalid_argument);
  EXPECT_THROW(make_slice_indexer({4}, {0}, {4}, {0}), std::invalid_argument);
  EXPECT_THROW(make_slice_indexer({4}, {-1}, {4}, {1}), std::invalid_argument);
  EXPECT_THROW(make_slice_indexer({4}, {0}, {5}, {1}), std::invalid_argument);
  EXPECT_THROW(make_slice_indexer({4, 4}, {0}, {4}, {1}), std::invalid_argument);
  EXPECT_NO_THROW(make_slice_indexer({4}, {3}, {2}, {1}));  // empty
  EXPECT_THROW(make_pad_indexer(rank9, rank9, rank9), std::invalid_argument);
  EXPECT_THROW(make_pad_indexer({4}, {-1}, {0}), std::invalid_argument);
  EXPECT_THROW(make_pad_indexer({4}, {0}, {}), std::invalid_argument);
}

TEST(TensorOpsLaunch, Geometry) {
  const LaunchGeometry t = transpose_launch(2 * 3 * 4 * 5);
  EXPECT_EQ(t.kernel, "strided_copy<float>");
  EXPECT_EQ(t.grid.x, 1u);
  EXPECT_EQ(t.block.x, 256u);
  EXPECT_EQ(t.shared_bytes, 0u);
  EXPECT_EQ(slice_launch(0).grid.x, 0u);
  EXPECT_EQ(slice_launch(513).grid.x, 3u);
  EXPECT_EQ(pad_launch(int64_t(1) << 40).grid.x, kTensorOpsGridCap);
  EXPECT_EQ(pad_launch(10).kernel, "pad<float>");
  EXPECT_EQ(concat_launch(256).kernel, "concat_copy<float>");
  EXPECT_EQ(concat_launch(256).grid.x, 1u);
  EXPECT_EQ(gather_rows_check_launch(7).kernel, "gather_rows_check");
  EXPECT_EQ(gather_rows_copy_launch(7, 768).grid.x, 21u);  // 5376 elements
  EXPECT_EQ(gather_rows_copy_launch(7, 768).kernel, "gather_rows_copy<float>");
  EXPECT_EQ(gather_axis_launch(2, 3, 50).grid.x, 2u);       // 300 elements
  EXPECT_EQ(gather_axis_launch(2, 3, 50).kernel, "gather_axis<float>");
}

TEST(TensorOpsLaunch, PrecisionNamesTheStorageType) {
  const std::pair<Precision, std::string> cases[] = {
      {Precision::F32, "float"}, {Precision::F16, "__half"}, {Precision::BF16, "__nv_bfloat16"}};
  for (const auto& [p, type] : cases) {
    SCOPED_TRACE(precision_name(p));
    EXPECT_EQ(transpose_launch(120, p).kernel, "strided_copy<" + type + ">");
    EXPECT_EQ(slice_launch(513, p).kernel, "strided_copy<" + type + ">");
    EXPECT_EQ(slice_launch(513, p).grid.x, 3u);
    EXPECT_EQ(pad_launch(10, p).kernel, "pad<" + type + ">");
    EXPECT_EQ(concat_launch(256, p).kernel, "concat_copy<" + type + ">");
    EXPECT_EQ(gather_rows_copy_launch(7, 768, p).kernel, "gather_rows_copy<" + type + ">");
    EXPECT_EQ(gather_rows_copy_launch(7, 768, p).grid.x, 21u);
    EXPECT_EQ(gather_axis_launch(2, 3, 50, p).kernel, "gather_axis<" + type + ">");
  }
  // The id check reads fp32 ids at every precision: a plain (non-template) kernel.
  EXPECT_EQ(gather_rows_check_launch(7).kernel, "gather_rows_check");
}

}  // namespace
}  // namespace dstack::kernels
