#pragma once
// CUDA launcher of the 2-D convolution (kernels in kernels/conv2d.cu). CPU-only code includes
// kernels/conv2d.h instead, which says which kernel a shape takes (conv2d_algorithm) and with what
// launch geometry (conv2d_launch).
#include <cuda_runtime_api.h>

#include "kernels/activation.h"
#include "kernels/conv2d.h"
#include "kernels/convert_cuda.h"

namespace dstack::kernels {

// y = act(conv(x, w) + bias + residual) on `stream`, asynchronously; the same contract as conv2d_ref.
// x: [n, c, h, w]; w: [k, c/groups, r, s]; bias: [k] or null; residual: [n, k, oh, ow] or null;
// y: [n, k, oh, ow]. All device pointers to the storage type T (float, __half or __nv_bfloat16,
// explicitly instantiated); y must not overlap any input. Accumulation and the epilogue run in fp32,
// rounded once on store. Depthwise shapes (groups == c == k) take the direct kernel, all others the
// implicit GEMM: SIMT at fp32, tensor cores (wmma) at fp16 / bf16 (conv2d_algorithm says which).
// bias and residual may be null (they do not take part in deducing T).
// Throws std::invalid_argument for an invalid shape (conv2d_shape_error), null x/w/y, or a shape past
// the CUDA grid limits; dstack::ApiError when the launch fails.
template <typename T>
void conv2d_cuda(const Conv2dShape& s, const T* x, const T* w, nondeduced<const T*> bias,
                 nondeduced<const T*> residual, ActivationParams act, T* y, cudaStream_t stream);

}  // namespace dstack::kernels
