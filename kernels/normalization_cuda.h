#pragma once
// CUDA launchers of the normalization family (kernels/normalization.cu). Same arguments as the CPU
// references in kernels/normalization.h, plus the stream; every pointer is a device pointer to the
// storage type T (float, __half, __nv_bfloat16; explicitly instantiated). Reductions and the
// normalization run in fp32, one rounding on store.
// Asynchronous: nothing here synchronizes. Launch errors throw dstack::ApiError; shapes the kernels
// cannot take throw std::invalid_argument. Zero-size work launches nothing.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/convert_cuda.h"
#include "kernels/normalization.h"

namespace dstack::kernels {

template <typename T>
void softmax_cuda(int64_t rows, int64_t cols, const T* x, T* y, cudaStream_t stream);
// gamma and beta may be null (they do not take part in deducing T).
template <typename T>
void layernorm_cuda(int64_t rows, int64_t cols, const T* x, nondeduced<const T*> gamma, nondeduced<const T*> beta,
                    float eps, T* y, cudaStream_t stream);
template <typename T>
void reduce_mean_cuda(int64_t outer, int64_t reduce, int64_t inner, const T* x, T* y, cudaStream_t stream);

}  // namespace dstack::kernels
