#pragma once
// How a graph node's attributes and full input shapes become kernel arguments, for the ops whose
// mapping is more than passing shapes through. The CPU and GPU executors both use these, so they
// run the same computation by construction.
#include <cstdint>
#include <vector>

#include "models/graph.h"

namespace dstack::models {

// A node's input as the executors see it: full shape and data (host or device memory), aliasing
// an activation or a graph constant.
struct TensorView {
  models::Shape shape;
  const float* data;
};

// Per-axis start/end/step over the full shape (unsliced axes: the whole axis).
struct SliceBounds {
  std::vector<int64_t> starts, ends, steps;
};
SliceBounds slice_bounds(const models::Node& n, const models::Shape& x);

// ReduceMean over a contiguous run of axes as an [outer, reduce, inner] view.
struct ReduceView {
  int64_t outer, reduce, inner;
};
ReduceView reduce_view(const models::Node& n, const models::Shape& x);

// Softmax / LayerNorm over the last axis as [rows, cols].
struct RowView {
  int64_t rows, cols;
};
RowView last_axis_rows(const models::Shape& x);

// a [..., m, k] x b [..., k, n] with NumPy broadcasting of the leading dims: one entry per output
// matrix, in output order, giving each operand's element offset.
struct MatMulPlan {
  int m = 0, n = 0, k = 0;
  std::vector<int64_t> offset_a, offset_b;  // per output matrix
  // When the offsets step uniformly (the common case), one batched call covers them all.
  bool uniform = false;
  int64_t stride_a = 0, stride_b = 0;
};
MatMulPlan matmul_plan(const models::Shape& a, const models::Shape& b, const models::Shape& y);

}  // namespace dstack::models
