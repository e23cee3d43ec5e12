#pragma once
// Data movement layers: concat, transpose, slice, pad, gather (embedding lookup).
#include <cstdint>
#include <vector>

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

}  // namespace dstack::kernels
