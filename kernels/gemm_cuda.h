#pragma once
// CUDA launchers of the GEMM family (kernels/gemm.cu). Same arguments as the CPU references in
// kernels/gemm.h, plus the stream; every pointer is a device pointer. fp32. Asynchronous: nothing
// here synchronizes. Launch errors throw dstack::ApiError; shapes the kernel cannot take throw
// std::invalid_argument. Zero-size work launches nothing.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/gemm.h"

namespace dstack::kernels {

void gemm_cuda(int m, int n, int k, const float* a, const float* b, bool b_transposed, float alpha,
               const float* bias, ActivationParams act, float* c, cudaStream_t stream);

// stride_c must not make two outputs overlap (|stride_c| >= m * n when batch > 1); stride_a and
// stride_b may be 0 (broadcast) or any value.
void batched_matmul_cuda(int batch, int m, int n, int k, const float* a, int64_t stride_a, const float* b,
                         int64_t stride_b, float alpha, float* c, int64_t stride_c, cudaStream_t stream);

}  // namespace dstack::kernels
