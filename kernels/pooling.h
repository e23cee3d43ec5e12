#pragma once
// Max, average and global-average pooling over NCHW, padding and ceil mode as ONNX defines them.
#include <algorithm>
#include <cstdint>

#include "kernels/host_device.h"
#include "kernels/launch.h"
#include "kernels/precision.h"

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

// ---- CUDA side: launch geometry and index math (CPU-computable; the launchers in pooling.cu use
// exactly these).

inline constexpr unsigned kPoolBlock = 256;
inline constexpr unsigned kPoolGridCap = 4096;  // blocks; a grid-stride loop covers the rest
inline constexpr unsigned kGlobalAvgPoolWarpsPerBlock = 8;

// One window along one axis, as the reference computes it: [begin, end) clipped to the input
// [0, in), and [padded_begin, padded_end) clipped to the padded extent [-pad_begin, in + pad_end).
struct Pool2dWindow {
  int begin, end;
  int padded_begin, padded_end;
};

DSTACK_HD Pool2dWindow pool2d_window(int o, int in, int kernel, int stride, int pad_begin, int pad_end) {
  const int start = o * stride - pad_begin;
  const int stop = start + kernel;
  Pool2dWindow w;
  w.begin = start > 0 ? start : 0;
  w.end = stop < in ? stop : in;
  w.padded_begin = start;
  w.padded_end = stop < in + pad_end ? stop : in + pad_end;
  return w;
}

// Flat output index of [n*c planes, out_h, out_w] -> (plane, oh, ow).
struct Pool2dOutputCoords {
  int64_t plane;
  int oh, ow;
};

DSTACK_HD Pool2dOutputCoords pool2d_output_coords(int64_t i, int out_h, int out_w) {
  Pool2dOutputCoords p;
  p.ow = static_cast<int>(i % out_w);
  const int64_t t = i / out_w;
  p.oh = static_cast<int>(t % out_h);
  p.plane = t / out_h;
  return p;
}

// Max / average pooling: one thread per output element (block 256, grid = min(ceil(outputs/256),
// cap), grid-stride). grid.x == 0: nothing to launch (or an invalid shape, which the launcher rejects).
// Kernels are templates over the storage type: "maxpool2d<__half>" etc. (fp32 math at every precision).
inline LaunchGeometry pool2d_grid_stride_launch(const char* kernel, const Pool2dShape& s, Precision p) {
  const int oh = s.out_h(), ow = s.out_w();
  const int64_t count = (s.n > 0 && s.c > 0 && oh > 0 && ow > 0) ? int64_t(s.n) * s.c * oh * ow : 0;
  return grid_stride_launch(typed_kernel_name(kernel, p).c_str(), count, kPoolBlock, kPoolGridCap);
}
inline LaunchGeometry maxpool2d_launch(const Pool2dShape& s, Precision p = Precision::F32) {
  return pool2d_grid_stride_launch("maxpool2d", s, p);
}
inline LaunchGeometry avgpool2d_launch(const Pool2dShape& s, Precision p = Precision::F32) {
  return pool2d_grid_stride_launch("avgpool2d", s, p);
}

// Global average pooling: one warp per (n, c) plane (8 warps, 256 threads per block), a warp-shuffle
// sum; grid = min(ceil(planes / 8), cap), warps stride over the planes.
inline LaunchGeometry global_avgpool_launch(int n, int c, int hw, Precision p = Precision::F32) {
  LaunchGeometry g;
  g.kernel = typed_kernel_name("global_avgpool", p);
  g.block.x = 32 * kGlobalAvgPoolWarpsPerBlock;
  const int64_t planes = (n > 0 && c > 0 && hw > 0) ? int64_t(n) * c : 0;
  const int64_t blocks = (planes + kGlobalAvgPoolWarpsPerBlock - 1) / kGlobalAvgPoolWarpsPerBlock;
  g.grid.x = static_cast<unsigned>(std::min<int64_t>(blocks, kPoolGridCap));
  return g;
}

}  // namespace dstack::kernels
