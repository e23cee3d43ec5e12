#pragma once
// CUDA launcher of the 2-D convolution (kernels in kernels/conv2d.cu). CPU-only code includes
// kernels/conv2d.h instead, which says which kernel a shape takes (conv2d_algorithm) and with what
// launch geometry (conv2d_launch).
#include <cuda_runtime_api.h>

#include "kernels/activation.h"
#include "kernels/conv2d.h"

namespace dstack::kernels {

// y = act(conv(x, w) + bias + residual) on `stream`, asynchronously; the same contract as conv2d_ref.
// x: [n, c, h, w]; w: [k, c/groups, r, s]; bias: [k] or null; residual: [n, k, oh, ow] or null;
// y: [n, k, oh, ow]. All device pointers, float32; y must not overlap any input.
// Depthwise shapes (groups == c == k) take the direct kernel, all others the implicit GEMM.
// Throws std::invalid_argument for an invalid shape (conv2d_shape_error), null x/w/y, or a shape past
// the CUDA grid limits; dstack::ApiError when the launch fails.
void conv2d_cuda(const Conv2dShape& s, const float* x, const float* w, const float* bias, const float* residual,
                 ActivationParams act, float* y, cudaStream_t stream);

}  // namespace dstack::kernels
