// CPU reference convolution: im2col per image and group, then the blocked GEMM of gemm_core.h.
// 1x1 stride-1 unpadded convolutions use the input as the GEMM operand directly; depthwise
// convolutions take a direct loop.
#include <algorithm>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/gemm_core.h"

namespace dstack::kernels {

const char* conv2d_shape_error(const Conv2dShape& s) {
  if (s.n < 1 || s.c < 1 || s.h < 1 || s.w < 1 || s.k < 1) return "batch, channels and spatial dims must be >= 1";
  if (s.r < 1 || s.s < 1) return "filter dims must be >= 1";
  if (s.stride_h < 1 || s.stride_w < 1) return "stride must be >= 1";
  if (s.dilation_h < 1 || s.dilation_w < 1) return "dilation must be >= 1";
  if (s.pad_top < 0 || s.pad_left < 0 || s.pad_bottom < 0 || s.pad_right < 0) return "padding must be >= 0";
  if (s.groups < 1 || s.c % s.groups != 0 || s.k % s.groups != 0)
    return "groups must divide both input and output channels";
  if (s.dilation_h * (s.r - 1) + 1 > s.h + s.pad_top + s.pad_bottom ||
      s.dilation_w * (s.s - 1) + 1 > s.w + s.pad_left + s.pad_right)
    return "kernel larger than padded input";
  return nullptr;
}

namespace {

// ceil(a / b) for b > 0 and any sign of a.
int ceil_div(int a, int b) { return a >= 0 ? (a + b - 1) / b : -(-a / b); }

// Output positions o in [lo, hi) whose input position o * stride + offset lies in [0, in_size).
struct Range {
  int lo, hi;
};
Range valid_outputs(int out_size, int in_size, int stride, int offset) {
  int lo = std::clamp(ceil_div(-offset, stride), 0, out_size);
  int hi = std::clamp(ceil_div(in_size - offset, stride), lo, out_size);
  return {lo, hi};
}

bool is_pointwise(const Conv2dShape& s) {
  return s.r == 1 && s.s == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 && s.pad_left == 0 &&
         s.pad_bottom == 0 && s.pad_right == 0;
}

bool is_depthwise(const Conv2dShape& s) { return s.groups == s.c && s.groups == s.k; }

// col[(ci * r + kr) * s + ks][oh * out_w + ow] = x[ci][oh * stride_h - pad_top + kr * dilation_h][...w...],
// zero where that lands in the padding. x is one group of one image: [channels, h, w].
void im2col(const Conv2dShape& s, int channels, const float* x, float* col) {
  const int oh_size = s.out_h(), ow_size = s.out_w();
  for (int ci = 0; ci < channels; ++ci) {
    const float* x_c = x + int64_t(ci) * s.h * s.w;
    for (int kr = 0; kr < s.r; ++kr) {
      const int row_offset = kr * s.dilation_h - s.pad_top;
      const Range rows = valid_outputs(oh_size, s.h, s.stride_h, row_offset);
      for (int ks = 0; ks < s.s; ++ks) {
        const int col_offset = ks * s.dilation_w - s.pad_left;
        const Range cols = valid_outputs(ow_size, s.w, s.stride_w, col_offset);
        float* out = col + (int64_t(ci * s.r + kr) * s.s + ks) * oh_size * ow_size;
        for (int oh = 0; oh < oh_size; ++oh) {
          float* out_row = out + int64_t(oh) * ow_size;
          if (oh < rows.lo || oh >= rows.hi) {
            std::fill(out_row, out_row + ow_size, 0.f);
            continue;
          }
          const float* x_row = x_c + int64_t(oh * s.stride_h + row_offset) * s.w;
          std::fill(out_row, out_row + cols.lo, 0.f);
          for (int ow = cols.lo; ow < cols.hi; ++ow) out_row[ow] = x_row[ow * s.stride_w + col_offset];
          std::fill(out_row + cols.hi, out_row + ow_size, 0.f);
        }
      }
    }
  }
}

// Depthwise: y[c] = sum over taps of w[c, kr, ks] * shifted x[c]. Taps outer, output row inner, so
// the inner loop runs along a row (contiguous for stride 1).
void depthwise_conv(const Conv2dShape& s, const float* x, const float* w, float* y) {
  const int oh_size = s.out_h(), ow_size = s.out_w();
  for (int ch = 0; ch < s.n * s.c; ++ch) {
    const float* x_c = x + int64_t(ch) * s.h * s.w;
    const float* w_c = w + int64_t(ch % s.c) * s.r * s.s;
    float* y_c = y + int64_t(ch) * oh_size * ow_size;
    std::fill(y_c, y_c + int64_t(oh_size) * ow_size, 0.f);
    for (int kr = 0; kr < s.r; ++kr) {
      const int row_offset = kr * s.dilation_h - s.pad_top;
      const Range rows = valid_outputs(oh_size, s.h, s.stride_h, row_offset);
      for (int ks = 0; ks < s.s; ++ks) {
        const int col_offset = ks * s.dilation_w - s.pad_left;
        const Range cols = valid_outputs(ow_size, s.w, s.stride_w, col_offset);
        const float tap = w_c[kr * s.s + ks];
        for (int oh = rows.lo; oh < rows.hi; ++oh) {
          const float* x_row = x_c + int64_t(oh * s.stride_h + row_offset) * s.w;
          float* y_row = y_c + int64_t(oh) * ow_size;
          for (int ow = cols.lo; ow < cols.hi; ++ow) y_row[ow] += tap * x_row[ow * s.stride_w + col_offset];
        }
      }
    }
  }
}

// Per image and group: y_g[kpg, oh*ow] = w_g[kpg, cpg*r*s] x col[cpg*r*s, oh*ow].
void gemm_conv(const Conv2dShape& s, const float* x, const float* w, float* y) {
  const int64_t plane_out = int64_t(s.out_h()) * s.out_w();
  const int cpg = s.c_per_group(), kpg = s.k_per_group();
  const int gemm_k = cpg * s.r * s.s;  // reduction length: one group's channels times the filter taps
  const bool pointwise = is_pointwise(s);
  std::vector<float> col(pointwise ? 0 : size_t(gemm_k) * plane_out);
  for (int img = 0; img < s.n; ++img) {
    for (int g = 0; g < s.groups; ++g) {
      const float* x_g = x + (int64_t(img) * s.c + int64_t(g) * cpg) * s.h * s.w;
      const float* w_g = w + int64_t(g) * kpg * gemm_k;
      float* y_g = y + (int64_t(img) * s.k + int64_t(g) * kpg) * plane_out;
      const float* b_operand = x_g;  // pointwise: the input itself is the [c, h*w] GEMM operand
      if (!pointwise) {
        im2col(s, cpg, x_g, col.data());
        b_operand = col.data();
      }
      std::fill(y_g, y_g + kpg * plane_out, 0.f);
      detail::gemm_accumulate(kpg, int(plane_out), gemm_k, w_g, gemm_k, b_operand, plane_out, y_g, plane_out);
    }
  }
}

// y = act(y + bias + residual), in that order, over the whole output.
void conv_epilogue(const Conv2dShape& s, const float* bias, const float* residual, ActivationParams act, float* y) {
  const int64_t plane = int64_t(s.out_h()) * s.out_w();
  for (int img = 0; img < s.n; ++img) {
    for (int kk = 0; kk < s.k; ++kk) {
      const int64_t base = (int64_t(img) * s.k + kk) * plane;
      const float b = bias ? bias[kk] : 0.f;
      float* y_p = y + base;
      const float* res_p = residual ? residual + base : nullptr;
      for (int64_t i = 0; i < plane; ++i) {
        float v = y_p[i] + b;
        if (res_p) v += res_p[i];
        y_p[i] = apply_activation(act, v);
      }
    }
  }
}

}  // namespace

void conv2d_ref(const Conv2dShape& s, const float* x, const float* w, const float* bias, const float* residual,
                ActivationParams act, float* y) {
  if (is_depthwise(s))
    depthwise_conv(s, x, w, y);
  else
    gemm_conv(s, x, w, y);
  conv_epilogue(s, bias, residual, act, y);
}

}  // namespace dstack::kernels
