#pragma once
// CUDA launchers of the normalization family (kernels/normalization.cu). Same arguments as the CPU
// references in kernels/normalization.h, plus the stream; every pointer is a device pointer. fp32.
// Asynchronous: nothing here synchronizes. Launch errors throw dstack::ApiError; shapes the kernels
// cannot take throw std::invalid_argument. Zero-size work launches nothing.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/normalization.h"

namespace dstack::kernels {

void softmax_cuda(int64_t rows, int64_t cols, const float* x, float* y, cudaStream_t stream);
void layernorm_cuda(int64_t rows, int64_t cols, const float* x, const float* gamma, const float* beta, float eps,
                    float* y, cudaStream_t stream);
void reduce_mean_cuda(int64_t outer, int64_t reduce, int64_t inner, const float* x, float* y, cudaStream_t stream);

}  // namespace dstack::kernels
