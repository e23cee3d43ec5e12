// CUDA data movement: concat, transpose, slice, pad, gather. Grid-stride loops over the elements
// written; N-d index math from kernels/tensor_ops.h (StridedIndexer, PadIndexer), geometry too.
// Templates over the storage type T; elements are copied unchanged.
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/tensor_ops_cuda.h"
#include "runtime/backend/cuda/check.h"

namespace dstack::kernels {
namespace {

constexpr unsigned kNoBadPosition = ~0u;  // the bits of int -1

// x viewed as [outer, chunk] -> y viewed as [outer, y_chunk], columns [col_offset, col_offset + chunk).
template <typename T>
__global__ void __launch_bounds__(kTensorOpsBlock)
    concat_copy(int64_t count, int64_t chunk, int64_t y_chunk, int64_t col_offset, const T* __restrict__ x,
                T* __restrict__ y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < count; e += stride)
    y[concat_dest_offset(e, chunk, y_chunk, col_offset)] = x[e];
}

// y[i] = x[ix.offset(i)]; x_count bounds every load.
template <typename T>
__global__ void __launch_bounds__(kTensorOpsBlock)
    strided_copy(StridedIndexer ix, int64_t count, const T* __restrict__ x, int64_t x_count, T* __restrict__ y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const int64_t src = ix.offset(i);
    if (src >= 0 && src < x_count) y[i] = x[src];
  }
}

template <typename T>
__global__ void __launch_bounds__(kTensorOpsBlock)
    pad(PadIndexer ix, int64_t count, T value, const T* __restrict__ x, int64_t x_count, T* __restrict__ y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const int64_t src = ix.source(i);
    y[i] = (src >= 0 && src < x_count) ? x[src] : value;
  }
}

// Lowers *bad to the smallest position whose index is invalid.
__global__ void __launch_bounds__(kTensorOpsBlock)
    gather_rows_check(int64_t count, const float* __restrict__ indices, float rows_f, unsigned* bad) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    if (!gather_row_index_ok(indices[i], rows_f)) atomicMin(bad, static_cast<unsigned>(i));  // i < count <= INT_MAX
}

// Runs after the check kernel on the same stream: writes nothing if any index was bad.
template <typename T>
__global__ void __launch_bounds__(kTensorOpsBlock)
    gather_rows_copy(int64_t rows, int64_t dim, const T* __restrict__ table, int64_t count,
                     const float* __restrict__ indices, const unsigned* bad, T* __restrict__ y) {
  if (*bad != kNoBadPosition) return;
  const int64_t total = count * dim;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t i = e / dim, j = e % dim;
    const int64_t row = static_cast<int64_t>(indices[i]);  // checked: an integer in [0, rows)
    if (row >= 0 && row < rows) y[e] = table[row * dim + j];
  }
}

struct GatherAxisChunk {
  int64_t count = 0;  // indices in this chunk (<= kGatherAxisChunk)
  int64_t first = 0;  // position of the chunk's first index in the whole list
  int64_t idx[kGatherAxisChunk] = {};
};

// x viewed as [outer, axis_len, inner]; y as [outer, num_indices, inner]; this launch writes
// y[:, first .. first + count, :].
template <typename T>
__global__ void __launch_bounds__(kTensorOpsBlock)
    gather_axis(GatherAxisChunk ch, int64_t outer, int64_t axis_len, int64_t inner, int64_t num_indices,
                const T* __restrict__ x, T* __restrict__ y) {
  const int64_t total = outer * ch.count * inner;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t r = e % inner;
    const int64_t t = e / inner;
    const int64_t k = t % ch.count;
    const int64_t o = t / ch.count;
    const int64_t src_idx = ch.idx[k];
    if (src_idx >= 0 && src_idx < axis_len)
      y[(o * num_indices + ch.first + k) * inner + r] = x[(o * axis_len + src_idx) * inner + r];
  }
}

dim3 to_dim3(const Dim3& d) { return dim3(d.x, d.y, d.z); }

int64_t product(const std::vector<int64_t>& shape, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t d = begin; d < end; ++d) p *= shape[d];
  return p;
}

}  // namespace

template <typename T>
void concat_cuda(const std::vector<std::vector<int64_t>>& shapes, const std::vector<const T*>& inputs, int axis, T* y,
                 cudaStream_t stream) {
  if (shapes.empty() || shapes.size() != inputs.size())
    throw std::invalid_argument("concat_cuda: need one shape per input and at least one input");
  const std::vector<int64_t>& first = shapes.front();
  if (axis < 0 || size_t(axis) >= first.size())
    throw std::invalid_argument("concat_cuda: axis " + std::to_string(axis) + " outside [0, rank)");
  const size_t ax = size_t(axis);
  int64_t y_axis = 0;
  for (const std::vector<int64_t>& s : shapes) {
    if (s.size() != first.size()) throw std::invalid_argument("concat_cuda: inputs differ in rank");
    for (size_t d = 0; d < s.size(); ++d) {
      if (s[d] < 0) throw std::invalid_argument("concat_cuda: negative dim");
      if (d != ax && s[d] != first[d]) throw std::invalid_argument("concat_cuda: inputs differ off the concat axis");
    }
    y_axis += s[ax];
  }
  const int64_t outer = product(first, 0, ax), inner = product(first, ax + 1, first.size());
  const int64_t y_chunk = y_axis * inner;
  int64_t col_offset = 0;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const int64_t chunk = shapes[i][ax] * inner;
    const int64_t count = outer * chunk;
    const LaunchGeometry g = concat_launch(count, precision_of<T>());
    if (count > 0 && g.grid.x > 0) {
      concat_copy<T><<<to_dim3(g.grid), to_dim3(g.block), g.shared_bytes, stream>>>(count, chunk, y_chunk, col_offset,
                                                                                    inputs[i], y);
      DSTACK_CUDA_CHECK(cudaGetLastError());
    }
    col_offset += chunk;
  }
}

template <typename T>
void transpose_cuda(const std::vector<int64_t>& shape, const std::vector<int>& perm, const T* x, T* y,
                    cudaStream_t stream) {
  const StridedIndexer ix = make_transpose_indexer(shape, perm);
  const int64_t count = product(shape, 0, shape.size());
  const LaunchGeometry g = transpose_launch(count, precision_of<T>());
  if (count == 0 || g.grid.x == 0) return;
  strided_copy<T><<<to_dim3(g.grid), to_dim3(g.block), g.shared_bytes, stream>>>(ix, count, x, count, y);
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void slice_cuda(const std::vector<int64_t>& shape, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                const std::vector<int64_t>& steps, const T* x, T* y, cudaStream_t stream) {
  const StridedIndexer ix = make_slice_indexer(shape, starts, ends, steps);
  const std::vector<int64_t> out = slice_out_shape(starts, ends, steps);
  const int64_t count = product(out, 0, out.size());
  const int64_t x_count = product(shape, 0, shape.size());
  const LaunchGeometry g = slice_launch(count, precision_of<T>());
  if (count == 0 || g.grid.x == 0) return;
  strided_copy<T><<<to_dim3(g.grid), to_dim3(g.block), g.shared_bytes, stream>>>(ix, count, x, x_count, y);
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void pad_cuda(const std::vector<int64_t>& shape, const std::vector<int64_t>& pads_begin,
              const std::vector<int64_t>& pads_end, float value, const T* x, T* y, cudaStream_t stream) {
  const PadIndexer ix = make_pad_indexer(shape, pads_begin, pads_end);
  int64_t count = 1;
  for (int d = 0; d < ix.rank; ++d) count *= ix.out_dims[d];
  const int64_t x_count = product(shape, 0, shape.size());
  const LaunchGeometry g = pad_launch(count, precision_of<T>());
  if (count == 0 || g.grid.x == 0) return;
  // The fill value rounds to T on the host, bit-exactly as __float2half_rn / __float2bfloat16_rn would.
  pad<T><<<to_dim3(g.grid), to_dim3(g.block), g.shared_bytes, stream>>>(ix, count, host_from_f32<T>(value), x, x_count,
                                                                        y);
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void gather_rows_cuda(int64_t rows, int64_t dim, const T* table, int64_t count, const float* indices, T* y,
                      int* d_bad_position, cudaStream_t stream) {
  if (rows < 0 || dim < 0 || count < 0) throw std::invalid_argument("gather_rows_cuda: negative size");
  if (count > INT_MAX) throw std::invalid_argument("gather_rows_cuda: more than INT_MAX ids");
  if (d_bad_position == nullptr) throw std::invalid_argument("gather_rows_cuda: d_bad_position is null");
  if (count == 0) return;
  // The device only ever accesses the flag as unsigned: -1 is then the largest value, "none".
  auto* bad = reinterpret_cast<unsigned*>(d_bad_position);
  const LaunchGeometry gc = gather_rows_check_launch(count);
  gather_rows_check<<<to_dim3(gc.grid), to_dim3(gc.block), gc.shared_bytes, stream>>>(
      count, indices, static_cast<float>(rows), bad);
  DSTACK_CUDA_CHECK(cudaGetLastError());
  const LaunchGeometry g = gather_rows_copy_launch(count, dim, precision_of<T>());
  if (dim == 0 || g.grid.x == 0) return;
  gather_rows_copy<T><<<to_dim3(g.grid), to_dim3(g.block), g.shared_bytes, stream>>>(rows, dim, table, count, indices,
                                                                                     bad, y);
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void gather_axis_cuda(const std::vector<int64_t>& shape, int axis, const std::vector<int64_t>& indices, const T* x,
                      T* y, cudaStream_t stream) {
  if (axis < 0 || size_t(axis) >= shape.size())
    throw std::invalid_argument("gather_axis_cuda: axis " + std::to_string(axis) + " outside [0, rank)");
  for (int64_t d : shape)
    if (d < 0) throw std::invalid_argument("gather_axis_cuda: negative dim");
  const size_t ax = size_t(axis);
  const int64_t axis_len = shape[ax];
  for (int64_t idx : indices)
    if (idx < 0 || idx >= axis_len)
      throw std::invalid_argument("gather_axis_cuda: index " + std::to_string(idx) + " outside [0, " +
                                  std::to_string(axis_len) + ")");
  const int64_t outer = product(shape, 0, ax), inner = product(shape, ax + 1, shape.size());
  const int64_t num_indices = static_cast<int64_t>(indices.size());
  if (outer == 0 || inner == 0 || num_indices == 0) return;
  for (int64_t first = 0; first < num_indices; first += kGatherAxisChunk) {
    GatherAxisChunk ch;
    ch.first = first;
    ch.count = std::min<int64_t>(kGatherAxisChunk, num_indices - first);
    for (int64_t k = 0; k < ch.count; ++k) ch.idx[k] = indices[size_t(first + k)];
    const LaunchGeometry g = gather_axis_launch(outer, ch.count, inner, precision_of<T>());
    if (g.grid.x == 0) continue;
    gather_axis<T><<<to_dim3(g.grid), to_dim3(g.block), g.shared_bytes, stream>>>(ch, outer, axis_len, inner,
                                                                                 num_indices, x, y);
    DSTACK_CUDA_CHECK(cudaGetLastError());
  }
}

#define DSTACK_INSTANTIATE_TENSOR_OPS(T)                                                                          \
  template void concat_cuda<T>(const std::vector<std::vector<int64_t>>&, const std::vector<const T*>&, int, T*,    \
                               cudaStream_t);                                                                     \
  template void transpose_cuda<T>(const std::vector<int64_t>&, const std::vector<int>&, const T*, T*, cudaStream_t); \
  template void slice_cuda<T>(const std::vector<int64_t>&, const std::vector<int64_t>&, const std::vector<int64_t>&, \
                              const std::vector<int64_t>&, const T*, T*, cudaStream_t);                           \
  template void pad_cuda<T>(const std::vector<int64_t>&, const std::vector<int64_t>&, const std::vector<int64_t>&,  \
                            float, const T*, T*, cudaStream_t);                                                   \
  template void gather_rows_cuda<T>(int64_t, int64_t, const T*, int64_t, const float*, T*, int*, cudaStream_t);    \
  template void gather_axis_cuda<T>(const std::vector<int64_t>&, int, const std::vector<int64_t>&, const T*, T*,   \
                                    cudaStream_t);
DSTACK_INSTANTIATE_FOR_STORAGE_TYPES(DSTACK_INSTANTIATE_TENSOR_OPS)
#undef DSTACK_INSTANTIATE_TENSOR_OPS

}  // namespace dstack::kernels
