// Concat, transpose, slice, pad and gather against naive per-element index arithmetic. Data
// movement is exact: every comparison has zero tolerance.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/tensor_ops.h"
#include "test/kernels/test_data.h"
#include "test/kernels/tolerance.h"

namespace dstack::kernels {
namespace {

using ktest::element_count;
using ktest::random_vector;
using ktest::ravel;
using ktest::unravel;
using Shape = std::vector<int64_t>;

void expect_exact(const std::vector<float>& ref, const std::vector<float>& got) {
  ktest::expect_close(ref, got, ktest::kExact, ktest::kExact);
}

std::string shape_str(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t d = 0; d < shape.size(); ++d) out << (d ? "," : "") << shape[d];
  out << ']';
  return out.str();
}

TEST(ConcatRef, EachAxisMatchesNaive) {
  const Shape base = {2, 3, 4};
  for (int axis = 0; axis < 3; ++axis) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    std::vector<Shape> shapes = {base, base, base};
    shapes[0][size_t(axis)] = 1, shapes[2][size_t(axis)] = 5;  // 1 + 3-or-so + 5 along the axis
    std::vector<std::vector<float>> data;
    std::vector<const float*> inputs;
    for (size_t i = 0; i < shapes.size(); ++i) data.push_back(random_vector(element_count(shapes[i]), uint32_t(i)));
    for (const auto& d : data) inputs.push_back(d.data());
    Shape out_shape = base;
    out_shape[size_t(axis)] = 0;
    for (const Shape& s : shapes) out_shape[size_t(axis)] += s[size_t(axis)];

    std::vector<float> ref(size_t(element_count(out_shape))), y(ref.size(), -7.f);
    for (int64_t flat = 0; flat < int64_t(ref.size()); ++flat) {
      Shape index = unravel(flat, out_shape);
      size_t input = 0;  // which input owns this position along the axis
      while (index[size_t(axis)] >= shapes[input][size_t(axis)]) index[size_t(axis)] -= shapes[input++][size_t(axis)];
      ref[size_t(flat)] = data[input][size_t(ravel(index, shapes[input]))];
    }
    concat_ref(shapes, inputs, axis, y.data());
    expect_exact(ref, y);
  }
}

std::vector<float> naive_transpose(const Shape& shape, const std::vector<int>& perm, const std::vector<float>& x) {
  Shape y_shape(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) y_shape[d] = shape[size_t(perm[d])];
  std::vector<float> y(x.size());
  for (int64_t flat = 0; flat < int64_t(y.size()); ++flat) {
    const Shape y_index = unravel(flat, y_shape);
    Shape x_index(shape.size());
    for (size_t d = 0; d < shape.size(); ++d) x_index[size_t(perm[d])] = y_index[d];
    y[size_t(flat)] = x[size_t(ravel(x_index, shape))];
  }
  return y;
}

TEST(TransposeRef, EveryPermutationOf4D) {
  const Shape shape = {2, 3, 4, 5};
  const auto x = random_vector(element_count(shape), 1);
  std::vector<int> perm = {0, 1, 2, 3};
  int count = 0;
  do {
    SCOPED_TRACE("perm " + std::to_string(perm[0]) + std::to_string(perm[1]) + std::to_string(perm[2]) +
                 std::to_string(perm[3]));
    std::vector<float> y(x.size(), -7.f);
    transpose_ref(shape, perm, x.data(), y.data());
    expect_exact(naive_transpose(shape, perm, x), y);
    ++count;
  } while (std::next_permutation(perm.begin(), perm.end()));
  EXPECT_EQ(count, 24);
}

TEST(TransposeRef, LowRanks) {
  const float m[] = {1, 2, 3, 4, 5, 6};  // [2, 3]
  std::vector<float> y(6);
  transpose_ref({2, 3}, {1, 0}, m, y.data());
  EXPECT_EQ(y, (std::vector<float>{1, 4, 2, 5, 3, 6}));
  transpose_ref({6}, {0}, m, y.data());
  EXPECT_EQ(y, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  const Shape shape = {3, 1, 7, 2, 2};  // 5-D with a unit dim
  const auto x = random_vector(element_count(shape), 2);
  std::vector<float> y5(x.size());
  const std::vector<int> perm = {4, 2, 0, 3, 1};
  transpose_ref(shape, perm, x.data(), y5.data());
  expect_exact(naive_transpose(shape, perm, x), y5);
}

TEST(SliceRef, StepsAndEmptySlices) {
  struct Case {
    Shape shape, starts, ends, steps;
  };
  const Case cases[] = {
      {{5, 6, 7}, {1, 0, 2}, {5, 6, 7}, {2, 3, 2}},
      {{5, 6, 7}, {0, 1, 6}, {5, 5, 7}, {1, 1, 1}},
      {{4, 9}, {3, 0}, {4, 9}, {1, 4}},
      {{8}, {1}, {8}, {3}},
      {{3, 4}, {2, 1}, {2, 4}, {1, 1}},  // empty along axis 0
  };
  uint32_t seed = 1;
  for (const Case& tc : cases) {
    SCOPED_TRACE("shape " + shape_str(tc.shape) + " starts " + shape_str(tc.starts) + " steps " + shape_str(tc.steps));
    const auto x = random_vector(element_count(tc.shape), seed++);
    Shape y_shape(tc.shape.size());
    for (size_t d = 0; d < y_shape.size(); ++d) {  // count the selected positions one by one
      y_shape[d] = 0;
      for (int64_t i = tc.starts[d]; i < tc.ends[d]; i += tc.steps[d]) ++y_shape[d];
    }
    std::vector<float> ref(size_t(element_count(y_shape)));
    for (int64_t flat = 0; flat < int64_t(ref.size()); ++flat) {
      Shape index = unravel(flat, y_shape);
      for (size_t d = 0; d < index.size(); ++d) index[d] = tc.starts[d] + index[d] * tc.steps[d];
      ref[size_t(flat)] = x[size_t(ravel(index, tc.shape))];
    }
    std::vector<float> y(ref.size() + 1, -7.f);  // one sentinel past the end
    slice_ref(tc.shape, tc.starts, tc.ends, tc.steps, x.data(), y.data());
    EXPECT_EQ(y.back(), -7.f) << "wrote past the output";
    y.pop_back();
    expect_exact(ref, y);
  }
}

TEST(PadRef, ConstantPaddingPerAxis) {
  const Shape shape = {2, 3, 4};
  const Shape begin = {0, 1, 2}, end = {1, 0, 3};
  const auto x = random_vector(element_count(shape), 3);
  Shape y_shape(3);
  for (size_t d = 0; d < 3; ++d) y_shape[d] = begin[d] + shape[d] + end[d];
  std::vector<float> ref(size_t(element_count(y_shape))), y(ref.size(), -7.f);
  for (int64_t flat = 0; flat < int64_t(ref.size()); ++flat) {
    Shape index = unravel(flat, y_shape);
    bool inside = true;
    for (size_t d = 0; d < 3; ++d) {
      index[d] -= begin[d];
      inside = inside && index[d] >= 0 && index[d] < shape[d];
    }
    ref[size_t(flat)] = inside ? x[size_t(ravel(index, shape))] : -1.5f;
  }
  pad_ref(shape, begin, end, -1.5f, x.data(), y.data());
  expect_exact(ref, y);

  const float row[] = {1, 2};
  std::vector<float> padded(5);
  pad_ref({2}, {1}, {2}, 0.f, row, padded.data());
  EXPECT_EQ(padded, (std::vector<float>{0, 1, 2, 0, 0}));
}

TEST(GatherRowsRef, LooksUpRows) {
  const int64_t rows = 4, dim = 3;
  const auto table = random_vector(rows * dim, 4);
  const std::vector<float> indices = {2, 0, 3, 2};
  std::vector<float> y(indices.size() * dim), ref;
  for (float idx : indices) ref.insert(ref.end(), table.begin() + int64_t(idx) * dim, table.begin() + (int64_t(idx) + 1) * dim);
  EXPECT_EQ(gather_rows_ref(rows, dim, table.data(), int64_t(indices.size()), indices.data(), y.data()), -1);
  expect_exact(ref, y);
}

TEST(GatherRowsRef, BadIndexReturnsItsPositionAndWritesNothing) {
  const int64_t rows = 4, dim = 2;
  const auto table = random_vector(rows * dim, 5);
  const std::vector<std::vector<float>> bad = {
      {0, 1, 4, 2},         // one past the end, at position 2
      {-1, 0},              // negative, at position 0
      {1, 2, 3, NAN},       // not a number, at position 3
      {0, 1.5f},            // not an integer, at position 1
  };
  const int64_t expected_position[] = {2, 0, 3, 1};
  for (size_t c = 0; c < bad.size(); ++c) {
    SCOPED_TRACE("case " + std::to_string(c));
    std::vector<float> y(bad[c].size() * dim, -7.f);
    EXPECT_EQ(gather_rows_ref(rows, dim, table.data(), int64_t(bad[c].size()), bad[c].data(), y.data()),
              expected_position[c]);
    EXPECT_TRUE(std::all_of(y.begin(), y.end(), [](float v) { return v == -7.f; }));
  }
}

TEST(GatherAxisRef, EachAxisMatchesNaive) {
  const Shape shape = {3, 4, 5};
  const auto x = random_vector(element_count(shape), 6);
  for (int axis = 0; axis < 3; ++axis) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    const std::vector<int64_t> indices = {2, 0, 2, 1};  // repeated and out of order
    Shape y_shape = shape;
    y_shape[size_t(axis)] = int64_t(indices.size());
    std::vector<float> ref(size_t(element_count(y_shape))), y(ref.size(), -7.f);
    for (int64_t flat = 0; flat < int64_t(ref.size()); ++flat) {
      Shape index = unravel(flat, y_shape);
      index[size_t(axis)] = indices[size_t(index[size_t(axis)])];
      ref[size_t(flat)] = x[size_t(ravel(index, shape))];
    }
    gather_axis_ref(shape, axis, indices, x.data(), y.data());
    expect_exact(ref, y);
  }
}

}  // namespace
}  // namespace dstack::kernels
