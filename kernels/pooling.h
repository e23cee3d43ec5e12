#pragma once
// Max, average and global-average pooling over NCHW, padding and ceil mode as ONNX defines them.
#include "kernels/host_device.h"

namespace dstack::kernels {

struct Pool2dShape {
  int n = 1, c = 1, h = 1, w = 1;
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool ceil_mode = false;
  bool count_include_pad = false;  // average pooling only

  // ONNX: with ceil_mode, a last window that would start in the bottom/right padding is dropped.
  DSTACK_HD int out_dim(int in, int k, int stride, int pad_begin, int pad_end) const {
    int span = in + pad_begin + pad_end - k;
    int out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
    if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
    return out;
  }
  DSTACK_HD int out_h() const { return out_dim(h, kernel_h, stride_h, pad_top, pad_bottom); }
  DSTACK_HD int out_w() const { return out_dim(w, kernel_w, stride_w, pad_left, pad_right); }
};

// nullptr when the shape is valid; otherwise a static message saying what is wrong with it. Each
// pad must be smaller than its kernel, so that every window holds at least one input element.
const char* pool2d_shape_error(const Pool2dShape& s);

// y: [n, c, out_h, out_w]. Max ignores padding; average divides by the window's in-bounds count
// unless count_include_pad (then by the window clipped to the padded extent, as ONNX does).
void maxpool2d_ref(const Pool2dShape& s, const float* x, float* y);
void avgpool2d_ref(const Pool2dShape& s, const float* x, float* y);
// y: [n, c] (stored as [n, c, 1, 1]).
void global_avgpool_ref(int n, int c, int hw, const float* x, float* y);

}  // namespace dstack::kernels
