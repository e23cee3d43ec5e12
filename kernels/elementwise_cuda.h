#pragma once
// CUDA launchers of the elementwise layers (kernels/elementwise.h has the CPU references, the
// launch geometry and the index math). Templates over the storage type T (float, __half,
// __nv_bfloat16; explicitly instantiated): elements widen to fp32, the math runs in fp32 and rounds
// once on store. Every pointer is a device pointer, shape vectors stay on the host. Asynchronous on `stream` (nothing synchronizes); zero-size work launches nothing.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "kernels/convert_cuda.h"
#include "kernels/elementwise.h"

namespace dstack::kernels {

// y[i] = f(x[i]) for i < count.
template <typename T>
void unary_cuda(UnaryOp op, ActivationParams act, int64_t count, const T* x, T* y, cudaStream_t stream);

// NumPy broadcasting as binary_ref. Throws std::invalid_argument when out_shape has more than 8
// dims or an operand does not broadcast to out_shape.
template <typename T>
void binary_cuda(BinaryOp op, const std::vector<int64_t>& a_shape, const T* a, const std::vector<int64_t>& b_shape,
                 const T* b, const std::vector<int64_t>& out_shape, T* y, cudaStream_t stream);

// y[n, c, i] = act(x[n, c, i] * scale[c] + shift[c]); throws std::invalid_argument for negative sizes.
template <typename T>
void channel_affine_cuda(int n, int c, int64_t inner, const T* x, const T* scale, const T* shift,
                         ActivationParams act, T* y, cudaStream_t stream);

}  // namespace dstack::kernels
