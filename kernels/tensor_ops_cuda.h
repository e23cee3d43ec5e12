#pragma once
// CUDA launchers of the data movement layers (kernels/tensor_ops.h has the CPU references, the
// launch geometry and the index math). Templates over the storage type T (float, __half,
// __nv_bfloat16; explicitly instantiated): elements move unchanged. Data pointers (inputs' entries
// included) are device pointers, shape and index vectors stay on the host. Asynchronous on `stream` (nothing
// synchronizes); zero-size work launches nothing. Shapes a kernel cannot handle (rank > 8 where an
// N-d shape goes to the kernel, mismatched dims, out-of-range axes or indices) throw
// std::invalid_argument before anything is enqueued.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "kernels/convert_cuda.h"
#include "kernels/tensor_ops.h"

namespace dstack::kernels {

// As concat_ref; one launch per non-empty input. Any rank.
template <typename T>
void concat_cuda(const std::vector<std::vector<int64_t>>& shapes, const std::vector<const T*>& inputs, int axis, T* y,
                 cudaStream_t stream);

// As transpose_ref; rank <= 8.
template <typename T>
void transpose_cuda(const std::vector<int64_t>& shape, const std::vector<int>& perm, const T* x, T* y,
                    cudaStream_t stream);

// As slice_ref; rank <= 8, steps > 0, and each non-empty range inside [0, shape[d]].
template <typename T>
void slice_cuda(const std::vector<int64_t>& shape, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                const std::vector<int64_t>& steps, const T* x, T* y, cudaStream_t stream);

// As pad_ref; rank <= 8. value is rounded to T once.
template <typename T>
void pad_cuda(const std::vector<int64_t>& shape, const std::vector<int64_t>& pads_begin,
              const std::vector<int64_t>& pads_end, float value, const T* x, T* y, cudaStream_t stream);

// Embedding lookup as gather_rows_ref, asynchronously. What gather_rows_ref returns goes instead to
// *d_bad_position, a device int that the caller sets to -1 (e.g. cudaMemsetAsync to 0xFF bytes)
// before the first call and reads after synchronizing `stream`: -1 when every id was valid, else
// the smallest position whose id is outside [0, rows) or not an integer. A check kernel lowers it
// (atomicMin on its unsigned bits, where -1 is the largest value), then the copy kernel writes y only
// if it is still -1, so a bad id leaves y untouched as in the reference. The flag is sticky: several
// calls on one stream may share it; once set, it keeps the smallest bad position reported and later
// calls write nothing. Throws std::invalid_argument for negative sizes, count > INT_MAX or a null flag.
// The ids stay fp32 at every precision (fp16 holds integers exactly only up to 2048); table and y are T.
template <typename T>
void gather_rows_cuda(int64_t rows, int64_t dim, const T* table, int64_t count, const float* indices, T* y,
                      int* d_bad_position, cudaStream_t stream);

// As gather_axis_ref (host index list). Throws std::invalid_argument for an index outside
// [0, shape[axis]) or an axis outside [0, rank). Any rank; one launch per 128 indices.
template <typename T>
void gather_axis_cuda(const std::vector<int64_t>& shape, int axis, const std::vector<int64_t>& indices, const T* x,
                      T* y, cudaStream_t stream);

}  // namespace dstack::kernels
