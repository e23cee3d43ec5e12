// CPU reference data movement: concat, transpose, slice, pad, gather.
#include <algorithm>
#include <cmath>

#include "kernels/tensor_ops.h"

namespace dstack::kernels {

namespace {

int64_t product(const std::vector<int64_t>& shape, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t d = begin; d < end; ++d) p *= shape[d];
  return p;
}

// Row-major element strides of a shape.
std::vector<int64_t> strides_of(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= shape[d];
  }
  return strides;
}

// Walks `shape` row by row (rows = its innermost dim) in row-major order and calls
// visit_row(linear_offset, mapped_offset): the row's offset in a contiguous tensor of that shape,
// and base + sum_d index[d] * mapped_strides[d] over the outer dims (the same row in a strided view).
// The odometer that every strided copy below shares.
template <typename VisitRow>
void for_each_row(const std::vector<int64_t>& shape, const std::vector<int64_t>& mapped_strides, int64_t base,
                  VisitRow visit_row) {
  const size_t rank = shape.size();
  const int64_t total = product(shape, 0, rank);
  if (total == 0) return;
  if (rank == 0) {  // a scalar: one row of one element
    visit_row(0, base);
    return;
  }
  const int64_t inner = shape[rank - 1];
  std::vector<int64_t> index(rank, 0);
  int64_t mapped = base;
  for (int64_t row = 0; row < total / inner; ++row) {
    visit_row(row * inner, mapped);
    for (size_t d = rank - 1; d-- > 0;) {  // dims rank-2 .. 0
      mapped += mapped_strides[d];
      if (++index[d] < shape[d]) break;
      mapped -= mapped_strides[d] * shape[d];
      index[d] = 0;
    }
  }
}

}  // namespace

void concat_ref(const std::vector<std::vector<int64_t>>& shapes, const std::vector<const float*>& inputs, int axis,
                float* y) {
  const std::vector<int64_t>& first = shapes.front();
  const int64_t outer = product(first, 0, size_t(axis));
  const int64_t inner = product(first, size_t(axis) + 1, first.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      const int64_t chunk = shapes[i][size_t(axis)] * inner;  // input i's slab for this outer index
      std::copy_n(inputs[i] + o * chunk, chunk, y);
      y += chunk;
    }
  }
}

void transpose_ref(const std::vector<int64_t>& shape, const std::vector<int>& perm, const float* x, float* y) {
  const size_t rank = shape.size();
  const std::vector<int64_t> x_strides = strides_of(shape);
  std::vector<int64_t> y_shape(rank), strides(rank);  // strides: x's stride along each y dim
  for (size_t d = 0; d < rank; ++d) {
    y_shape[d] = shape[size_t(perm[d])];
    strides[d] = x_strides[size_t(perm[d])];
  }
  const int64_t inner = rank ? y_shape[rank - 1] : 1, inner_stride = rank ? strides[rank - 1] : 1;
  for_each_row(y_shape, strides, 0, [&](int64_t y_off, int64_t x_off) {
    for (int64_t i = 0; i < inner; ++i) y[y_off + i] = x[x_off + i * inner_stride];
  });
}

void slice_ref(const std::vector<int64_t>& shape, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
               const std::vector<int64_t>& steps, const float* x, float* y) {
  const size_t rank = shape.size();
  const std::vector<int64_t> x_strides = strides_of(shape);
  std::vector<int64_t> y_shape(rank), strides(rank);  // strides: x's stride per output step
  int64_t base = 0;
  for (size_t d = 0; d < rank; ++d) {
    y_shape[d] = ends[d] > starts[d] ? (ends[d] - starts[d] + steps[d] - 1) / steps[d] : 0;
    strides[d] = x_strides[d] * steps[d];
    base += starts[d] * x_strides[d];
  }
  const int64_t inner = rank ? y_shape[rank - 1] : 1, inner_stride = rank ? strides[rank - 1] : 1;
  for_each_row(y_shape, strides, base, [&](int64_t y_off, int64_t x_off) {
    for (int64_t i = 0; i < inner; ++i) y[y_off + i] = x[x_off + i * inner_stride];
  });
}

void pad_ref(const std::vector<int64_t>& shape, const std::vector<int64_t>& pads_begin,
             const std::vector<int64_t>& pads_end, float value, const float* x, float* y) {
  const size_t rank = shape.size();
  std::vector<int64_t> y_shape(rank);
  for (size_t d = 0; d < rank; ++d) y_shape[d] = pads_begin[d] + shape[d] + pads_end[d];
  std::fill(y, y + product(y_shape, 0, rank), value);
  // Copy x's rows into the interior: walk x, and map each x row to its place in y.
  const std::vector<int64_t> y_strides = strides_of(y_shape);
  int64_t base = 0;
  for (size_t d = 0; d < rank; ++d) base += pads_begin[d] * y_strides[d];
  const int64_t inner = rank ? shape[rank - 1] : 1;
  for_each_row(shape, y_strides, base, [&](int64_t x_off, int64_t y_off) { std::copy_n(x + x_off, inner, y + y_off); });
}

int64_t gather_rows_ref(int64_t rows, int64_t dim, const float* table, int64_t count, const float* indices, float* y) {
  // Check every index before writing anything, so a bad index leaves y untouched.
  for (int64_t i = 0; i < count; ++i) {
    const float idx = indices[i];
    if (!(idx >= 0.f && idx < float(rows)) || idx != std::floor(idx)) return i;
  }
  for (int64_t i = 0; i < count; ++i) std::copy_n(table + int64_t(indices[i]) * dim, dim, y + i * dim);
  return -1;
}

void gather_axis_ref(const std::vector<int64_t>& shape, int axis, const std::vector<int64_t>& indices, const float* x,
                     float* y) {
  const size_t ax = size_t(axis);
  const int64_t outer = product(shape, 0, ax);
  const int64_t inner = product(shape, ax + 1, shape.size());
  const int64_t axis_len = shape[ax];
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t idx : indices) {
      std::copy_n(x + (o * axis_len + idx) * inner, inner, y);
      y += inner;
    }
  }
}

}  // namespace dstack::kernels
