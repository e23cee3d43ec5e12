#pragma once
// Data movement layers: concat, transpose, slice, pad, gather (embedding lookup).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/host_device.h"
#include "kernels/launch.h"
#include "kernels/precision.h"

namespace dstack::kernels {

// Concatenation along `axis` of tensors that agree on every other dim. shapes[i] is input i's shape.
void concat_ref(const std::vector<std::vector<int64_t>>& shapes, const std::vector<const float*>& inputs, int axis,
                float* y);

// y = x permuted: y's dim d is x's dim perm[d].
void transpose_ref(const std::vector<int64_t>& shape, const std::vector<int>& perm, const float* x, float* y);

// Per axis: start (inclusive), end (exclusive, already clamped), step (> 0); the output shape is
// ceil((end - start) / step) per axis.
void slice_ref(const std::vector<int64_t>& shape, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
               const std::vector<int64_t>& steps, const float* x, float* y);

// Constant padding: pads_begin/pads_end per axis (>= 0).
void pad_ref(const std::vector<int64_t>& shape, const std::vector<int64_t>& pads_begin,
             const std::vector<int64_t>& pads_end, float value, const float* x, float* y);

// Embedding lookup: y[i, :] = table[indices[i], :] for i < count. Indices are float-encoded
// integers (dstack's tensors are float32); an index outside [0, rows) or not an integer is an
// error: nothing is written and the offending position is returned. Returns -1 on success.
int64_t gather_rows_ref(int64_t rows, int64_t dim, const float* table, int64_t count, const float* indices, float* y);

// Gather along `axis` of x with a constant index list: y's dim `axis` has indices.size() entries.
void gather_axis_ref(const std::vector<int64_t>& shape, int axis, const std::vector<int64_t>& indices, const float* x,
                     float* y);

// ---- CUDA side: launch geometry and index math (CPU-computable; the launchers in tensor_ops.cu use
// exactly these). Every kernel is a grid-stride loop over the elements it writes.

inline constexpr unsigned kTensorOpsBlock = 256;
inline constexpr unsigned kTensorOpsGridCap = 4096;  // blocks; a grid-stride loop covers the rest
inline constexpr int kTensorOpsMaxRank = 8;          // N-d shapes travel in fixed-size structs
inline constexpr int kGatherAxisChunk = 128;         // indices per gather_axis launch (kernel parameter)

// Block of 256 threads, grid = min(ceil(count / 256), cap). grid.x == 0 (count <= 0): no launch.
// `kernel` is the exact name the geometry reports (see typed_kernel_name for templates).
inline LaunchGeometry tensor_ops_grid_stride_launch(const std::string& kernel, int64_t count) {
  return grid_stride_launch(kernel.c_str(), count, kTensorOpsBlock, kTensorOpsGridCap);
}

// Every kernel but gather_rows_check is a template over the storage type of precision p (data
// movement: elements are copied unchanged; pad rounds its fill value once).
// Concat: one launch per input, copying its `count` elements into its columns of y.
inline LaunchGeometry concat_launch(int64_t input_count, Precision p = Precision::F32) {
  return tensor_ops_grid_stride_launch(typed_kernel_name("concat_copy", p), input_count);
}
// Transpose / slice / pad: one thread per output element.
inline LaunchGeometry transpose_launch(int64_t out_count, Precision p = Precision::F32) {
  return tensor_ops_grid_stride_launch(typed_kernel_name("strided_copy", p), out_count);
}
inline LaunchGeometry slice_launch(int64_t out_count, Precision p = Precision::F32) {
  return tensor_ops_grid_stride_launch(typed_kernel_name("strided_copy", p), out_count);
}
inline LaunchGeometry pad_launch(int64_t out_count, Precision p = Precision::F32) {
  return tensor_ops_grid_stride_launch(typed_kernel_name("pad", p), out_count);
}
// gather_rows: a check kernel over the indices (float ids at every precision: fp16 cannot hold ids
// past 2048, so the check kernel is not a template), then a copy kernel over the count * dim outputs.
inline LaunchGeometry gather_rows_check_launch(int64_t count) {
  return tensor_ops_grid_stride_launch("gather_rows_check", count);
}
inline LaunchGeometry gather_rows_copy_launch(int64_t count, int64_t dim, Precision p = Precision::F32) {
  return tensor_ops_grid_stride_launch(typed_kernel_name("gather_rows_copy", p), count * dim);
}
// gather_axis: one launch per chunk of up to kGatherAxisChunk indices; `chunk` indices in this one.
inline LaunchGeometry gather_axis_launch(int64_t outer, int64_t chunk, int64_t inner, Precision p = Precision::F32) {
  return tensor_ops_grid_stride_launch(typed_kernel_name("gather_axis", p), outer * chunk * inner);
}

// Output flat index -> input element offset: base + sum_d index[d] * strides[d], index over dims
// (the output's dims, left-aligned, `rank` of them). Transpose: strides are x's strides permuted;
// slice: x's strides times the steps, base the offset of the starts.
struct StridedIndexer {
  int rank = 0;
  int64_t dims[kTensorOpsMaxRank] = {};
  int64_t strides[kTensorOpsMaxRank] = {};
  int64_t base = 0;

  // `linear` in [0, product(dims)); every dim >= 1 then.
  DSTACK_HD int64_t offset(int64_t linear) const {
    int64_t off = base;
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
    for (int d = kTensorOpsMaxRank - 1; d >= 0; --d) {
      if (d < rank) {
        off += (linear % dims[d]) * strides[d];
        linear /= dims[d];
      }
    }
    return off;
  }
};

// Output flat index of a constant pad -> x's element offset, or -1 where the output is padding.
struct PadIndexer {
  int rank = 0;
  int64_t out_dims[kTensorOpsMaxRank] = {};
  int64_t in_dims[kTensorOpsMaxRank] = {};
  int64_t pads_begin[kTensorOpsMaxRank] = {};
  int64_t in_strides[kTensorOpsMaxRank] = {};

  DSTACK_HD int64_t source(int64_t linear) const {
    int64_t off = 0;
    bool inside = true;
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
    for (int d = kTensorOpsMaxRank - 1; d >= 0; --d) {
      if (d < rank) {
        const int64_t i = linear % out_dims[d] - pads_begin[d];
        linear /= out_dims[d];
        if (i < 0 || i >= in_dims[d]) inside = false;
        off += i * in_strides[d];
      }
    }
    return inside ? off : -1;
  }
};

namespace tensor_ops_detail {

inline int64_t checked_count(const std::vector<int64_t>& shape, const char* op) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) throw std::invalid_argument(std::string(op) + ": negative dim");
    count *= d;
  }
  return count;
}

inline void check_rank(size_t rank, const char* op) {
  if (rank > size_t(kTensorOpsMaxRank))
    throw std::invalid_argument(std::string(op) + ": rank " + std::to_string(rank) +
                                " exceeds the CUDA kernel's maximum of 8");
}

inline std::vector<int64_t> row_major_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= shape[d];
  }
  return strides;
}

}  // namespace tensor_ops_detail

// Throws std::invalid_argument for rank > 8, negative dims, or perm not a permutation of 0..rank-1.
inline StridedIndexer make_transpose_indexer(const std::vector<int64_t>& shape, const std::vector<int>& perm) {
  tensor_ops_detail::check_rank(shape.size(), "transpose");
  tensor_ops_detail::checked_count(shape, "transpose");
  if (perm.size() != shape.size()) throw std::invalid_argument("transpose: perm size differs from the rank");
  std::vector<bool> seen(shape.size(), false);
  for (int p : perm) {
    if (p < 0 || size_t(p) >= shape.size() || seen[size_t(p)])
      throw std::invalid_argument("transpose: perm is not a permutation of the dims");
    seen[size_t(p)] = true;
  }
  const std::vector<int64_t> x_strides = tensor_ops_detail::row_major_strides(shape);
  StridedIndexer ix;
  ix.rank = static_cast<int>(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    ix.dims[d] = shape[size_t(perm[d])];
    ix.strides[d] = x_strides[size_t(perm[d])];
  }
  return ix;
}

// Output dims of a slice: ceil((end - start) / step), 0 when end <= start. Throws
// std::invalid_argument for mismatched sizes or a step <= 0.
inline std::vector<int64_t> slice_out_shape(const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                                            const std::vector<int64_t>& steps) {
  if (ends.size() != starts.size() || steps.size() != starts.size())
    throw std::invalid_argument("slice: starts, ends and steps must have one entry per dim");
  std::vector<int64_t> out(starts.size());
  for (size_t d = 0; d < starts.size(); ++d) {
    if (steps[d] <= 0) throw std::invalid_argument("slice: steps must be > 0");
    out[d] = ends[d] > starts[d] ? (ends[d] - starts[d] + steps[d] - 1) / steps[d] : 0;
  }
  return out;
}

// Throws std::invalid_argument for rank > 8, mismatched sizes, a step <= 0, or a non-empty range
// outside [0, shape[d]] (start < 0 or end > shape[d]).
inline StridedIndexer make_slice_indexer(const std::vector<int64_t>& shape, const std::vector<int64_t>& starts,
                                         const std::vector<int64_t>& ends, const std::vector<int64_t>& steps) {
  tensor_ops_detail::check_rank(shape.size(), "slice");
  tensor_ops_detail::checked_count(shape, "slice");
  if (starts.size() != shape.size() || ends.size() != shape.size() || steps.size() != shape.size())
    throw std::invalid_argument("slice: starts, ends and steps must have one entry per dim");
  const std::vector<int64_t> x_strides = tensor_ops_detail::row_major_strides(shape);
  const std::vector<int64_t> out = slice_out_shape(starts, ends, steps);
  StridedIndexer ix;
  ix.rank = static_cast<int>(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    if (out[d] > 0 && (starts[d] < 0 || ends[d] > shape[d]))
      throw std::invalid_argument("slice: range outside the input (starts must be >= 0, ends <= the dim)");
    ix.dims[d] = out[d];
    ix.strides[d] = x_strides[d] * steps[d];
    if (out[d] > 0) ix.base += starts[d] * x_strides[d];
  }
  return ix;
}

// Throws std::invalid_argument for rank > 8, mismatched sizes, or a negative pad or dim.
inline PadIndexer make_pad_indexer(const std::vector<int64_t>& shape, const std::vector<int64_t>& pads_begin,
                                   const std::vector<int64_t>& pads_end) {
  tensor_ops_detail::check_rank(shape.size(), "pad");
  tensor_ops_detail::checked_count(shape, "pad");
  if (pads_begin.size() != shape.size() || pads_end.size() != shape.size())
    throw std::invalid_argument("pad: pads_begin and pads_end must have one entry per dim");
  const std::vector<int64_t> x_strides = tensor_ops_detail::row_major_strides(shape);
  PadIndexer ix;
  ix.rank = static_cast<int>(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    if (pads_begin[d] < 0 || pads_end[d] < 0) throw std::invalid_argument("pad: pads must be >= 0");
    ix.out_dims[d] = pads_begin[d] + shape[d] + pads_end[d];
    ix.in_dims[d] = shape[d];
    ix.pads_begin[d] = pads_begin[d];
    ix.in_strides[d] = x_strides[d];
  }
  return ix;
}

// Concat: element e of an input viewed as [outer, chunk] goes to y viewed as [outer, y_chunk] at
// column col_offset + e % chunk (chunk = the input's dim `axis` times the inner size).
DSTACK_HD int64_t concat_dest_offset(int64_t e, int64_t chunk, int64_t y_chunk, int64_t col_offset) {
  return (e / chunk) * y_chunk + col_offset + e % chunk;
}

// gather_rows: the reference's test of a float-encoded index (rows_f = float(rows)).
DSTACK_HD bool gather_row_index_ok(float idx, float rows_f) {
  return idx >= 0.f && idx < rows_f && idx == floorf(idx);
}

}  // namespace dstack::kernels
