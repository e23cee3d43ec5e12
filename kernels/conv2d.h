#pragma once
// 2-D convolution (NCHW activations, KCRS weights), with stride, asymmetric padding, dilation and
// groups (depthwise when groups == C == K). Batch-norm is folded into weight and bias before this
// sees them. Fused epilogue: y = act(conv(x, w) + bias + residual).
#include <cstdint>

#include "kernels/activation.h"
#include "kernels/host_device.h"

namespace dstack::kernels {

struct Conv2dShape {
  int n = 1;           // batch
  int c = 1, h = 1, w = 1;  // input channels, height, width
  int k = 1;           // output channels
  int r = 1, s = 1;    // filter height, width
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;

  DSTACK_HD int out_h() const { return (h + pad_top + pad_bottom - dilation_h * (r - 1) - 1) / stride_h + 1; }
  DSTACK_HD int out_w() const { return (w + pad_left + pad_right - dilation_w * (s - 1) - 1) / stride_w + 1; }
  DSTACK_HD int c_per_group() const { return c / groups; }
  DSTACK_HD int k_per_group() const { return k / groups; }
  // Multiply-adds of the whole convolution.
  DSTACK_HD int64_t macs() const {
    return int64_t(n) * k * out_h() * out_w() * c_per_group() * r * s;
  }
};

// nullptr when the shape is valid; otherwise a static message saying what is wrong with it.
const char* conv2d_shape_error(const Conv2dShape& s);

// CPU reference. x: [n, c, h, w]; w: [k, c/groups, r, s]; bias: [k] or null; residual: [n, k, oh, ow]
// or null; y: [n, k, oh, ow]. Fast enough for tests (im2col + blocked GEMM per group).
void conv2d_ref(const Conv2dShape& s, const float* x, const float* w, const float* bias, const float* residual,
                ActivationParams act, float* y);

}  // namespace dstack::kernels
