#pragma once
// CUDA launchers of the GEMM family (kernels/gemm.cu). Same arguments as the CPU references in
// kernels/gemm.h, plus the stream; every pointer is a device pointer to elements of the storage type
// T (float, __half or __nv_bfloat16; explicitly instantiated for those three). Products accumulate
// in fp32 and the epilogue (alpha, bias, activation) runs in fp32, rounded once on store. fp32 runs
// the SIMT tiled kernel, fp16 / bf16 the tensor-core (wmma) kernel; batched_matmul_launch says
// which. Asynchronous: nothing here synchronizes. Launch errors throw dstack::ApiError; shapes the
// kernel cannot take throw std::invalid_argument. Zero-size work launches nothing.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/convert_cuda.h"
#include "kernels/gemm.h"

namespace dstack::kernels {

// bias may be null (it does not take part in deducing T).
template <typename T>
void gemm_cuda(int m, int n, int k, const T* a, const T* b, bool b_transposed, float alpha,
               nondeduced<const T*> bias, ActivationParams act, T* c, cudaStream_t stream);

// stride_c must not make two outputs overlap (|stride_c| >= m * n when batch > 1); stride_a and
// stride_b may be 0 (broadcast) or any value.
template <typename T>
void batched_matmul_cuda(int batch, int m, int n, int k, const T* a, int64_t stride_a, const T* b, int64_t stride_b,
                         float alpha, T* c, int64_t stride_c, cudaStream_t stream);

}  // namespace dstack::kernels
