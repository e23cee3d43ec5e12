// CPU reference pooling, ONNX semantics: output sizes from Pool2dShape::out_dim, max ignores the
// padding, average divides by the in-bounds count or (count_include_pad) by the window clipped to
// the padded extent.
#include <algorithm>
#include <cmath>

#include "kernels/pooling.h"

namespace dstack::kernels {

const char* pool2d_shape_error(const Pool2dShape& s) {
  if (s.n < 1 || s.c < 1 || s.h < 1 || s.w < 1) return "batch, channels and spatial dims must be >= 1";
  if (s.kernel_h < 1 || s.kernel_w < 1) return "kernel dims must be >= 1";
  if (s.stride_h < 1 || s.stride_w < 1) return "stride must be >= 1";
  if (s.pad_top < 0 || s.pad_left < 0 || s.pad_bottom < 0 || s.pad_right < 0) return "padding must be >= 0";
  if (s.kernel_h > s.h + s.pad_top + s.pad_bottom || s.kernel_w > s.w + s.pad_left + s.pad_right)
    return "kernel larger than padded input";
  // why: with a pad as large as the kernel a window can lie wholly in the padding (no max, no count).
  if (s.pad_top >= s.kernel_h || s.pad_bottom >= s.kernel_h || s.pad_left >= s.kernel_w || s.pad_right >= s.kernel_w)
    return "padding must be smaller than the kernel";
  return nullptr;
}

namespace {

// One window along one axis: [begin, end) in input coordinates, before and after clipping.
struct Window {
  int begin, end;            // clipped to the input [0, in)
  int padded_begin, padded_end;  // clipped to the padded extent [-pad_begin, in + pad_end)
};

Window window_at(int o, int in, int kernel, int stride, int pad_begin, int pad_end) {
  int start = o * stride - pad_begin;
  int padded_end = std::min(start + kernel, in + pad_end);
  return {std::max(start, 0), std::min(start + kernel, in), start, padded_end};
}

template <typename WindowOp>
void pool_each_window(const Pool2dShape& s, const float* x, float* y, WindowOp op) {
  const int oh_size = s.out_h(), ow_size = s.out_w();
  for (int plane = 0; plane < s.n * s.c; ++plane) {
    const float* x_p = x + int64_t(plane) * s.h * s.w;
    float* y_p = y + int64_t(plane) * oh_size * ow_size;
    for (int oh = 0; oh < oh_size; ++oh) {
      const Window wh = window_at(oh, s.h, s.kernel_h, s.stride_h, s.pad_top, s.pad_bottom);
      for (int ow = 0; ow < ow_size; ++ow) {
        const Window ww = window_at(ow, s.w, s.kernel_w, s.stride_w, s.pad_left, s.pad_right);
        y_p[int64_t(oh) * ow_size + ow] = op(x_p, wh, ww);
      }
    }
  }
}

}  // namespace

void maxpool2d_ref(const Pool2dShape& s, const float* x, float* y) {
  const int w = s.w;
  pool_each_window(s, x, y, [w](const float* x_p, Window wh, Window ww) {
    float m = -INFINITY;
    for (int ih = wh.begin; ih < wh.end; ++ih)
      for (int iw = ww.begin; iw < ww.end; ++iw) m = std::max(m, x_p[int64_t(ih) * w + iw]);
    return m;
  });
}

void avgpool2d_ref(const Pool2dShape& s, const float* x, float* y) {
  const int w = s.w;
  const bool include_pad = s.count_include_pad;
  pool_each_window(s, x, y, [w, include_pad](const float* x_p, Window wh, Window ww) {
    float sum = 0.f;
    for (int ih = wh.begin; ih < wh.end; ++ih)
      for (int iw = ww.begin; iw < ww.end; ++iw) sum += x_p[int64_t(ih) * w + iw];
    const int count = include_pad ? (wh.padded_end - wh.padded_begin) * (ww.padded_end - ww.padded_begin)
                                  : (wh.end - wh.begin) * (ww.end - ww.begin);
    return sum / float(count);
  });
}

void global_avgpool_ref(int n, int c, int hw, const float* x, float* y) {
  for (int plane = 0; plane < n * c; ++plane) {
    const float* x_p = x + int64_t(plane) * hw;
    float sum = 0.f;
    for (int i = 0; i < hw; ++i) sum += x_p[i];
    y[plane] = sum / float(hw);
  }
}

}  // namespace dstack::kernels
