#pragma once
// CUDA launchers of the pooling layers (kernels/pooling.h has the CPU references, the launch
// geometry and the window math). fp32, NCHW; x and y are device pointers. Asynchronous on `stream`;
// zero-size work launches nothing.
#include <cuda_runtime_api.h>

#include "kernels/pooling.h"

namespace dstack::kernels {

// As maxpool2d_ref / avgpool2d_ref (ONNX semantics). n == 0 or c == 0 launches nothing; otherwise
// throws std::invalid_argument with pool2d_shape_error's message when the shape is invalid.
void maxpool2d_cuda(const Pool2dShape& s, const float* x, float* y, cudaStream_t stream);
void avgpool2d_cuda(const Pool2dShape& s, const float* x, float* y, cudaStream_t stream);

// y[plane] = mean of x's plane of hw elements, planes = n * c. Throws std::invalid_argument for
// negative sizes or hw < 1 with planes to pool.
void global_avgpool_cuda(int n, int c, int hw, const float* x, float* y, cudaStream_t stream);

}  // namespace dstack::kernels
