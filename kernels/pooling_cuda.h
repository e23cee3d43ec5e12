#pragma once
// CUDA launchers of the pooling layers (kernels/pooling.h has the CPU references, the launch
// geometry and the window math). NCHW; x and y are device pointers to the storage type T (float,
// __half, __nv_bfloat16; explicitly instantiated), sums and means in fp32, one rounding on store. Asynchronous on `stream`;
// zero-size work launches nothing.
#include <cuda_runtime_api.h>

#include "kernels/convert_cuda.h"
#include "kernels/pooling.h"

namespace dstack::kernels {

// As maxpool2d_ref / avgpool2d_ref (ONNX semantics). n == 0 or c == 0 launches nothing; otherwise
// throws std::invalid_argument with pool2d_shape_error's message when the shape is invalid.
template <typename T>
void maxpool2d_cuda(const Pool2dShape& s, const T* x, T* y, cudaStream_t stream);
template <typename T>
void avgpool2d_cuda(const Pool2dShape& s, const T* x, T* y, cudaStream_t stream);

// y[plane] = mean of x's plane of hw elements, planes = n * c. Throws std::invalid_argument for
// negative sizes or hw < 1 with planes to pool.
template <typename T>
void global_avgpool_cuda(int n, int c, int hw, const T* x, T* y, cudaStream_t stream);

}  // namespace dstack::kernels
