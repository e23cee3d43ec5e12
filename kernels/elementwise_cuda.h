#pragma once
// CUDA launchers of the elementwise layers (kernels/elementwise.h has the CPU references, the
// launch geometry and the index math). fp32; every pointer is a device pointer, shape vectors stay
// on the host. Asynchronous on `stream` (nothing synchronizes); zero-size work launches nothing.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "kernels/elementwise.h"

namespace dstack::kernels {

// y[i] = f(x[i]) for i < count.
void unary_cuda(UnaryOp op, ActivationParams act, int64_t count, const float* x, float* y, cudaStream_t stream);

// NumPy broadcasting as binary_ref. Throws std::invalid_argument when out_shape has more than 8
// dims or an operand does not broadcast to out_shape.
void binary_cuda(BinaryOp op, const std::vector<int64_t>& a_shape, const float* a, const std::vector<int64_t>& b_shape,
                 const float* b, const std::vector<int64_t>& out_shape, float* y, cudaStream_t stream);

// y[n, c, i] = act(x[n, c, i] * scale[c] + shift[c]); throws std::invalid_argument for negative sizes.
void channel_affine_cuda(int n, int c, int64_t inner, const float* x, const float* scale, const float* shift,
                         ActivationParams act, float* y, cudaStream_t stream);

}  // namespace dstack::kernels
