// CUDA pooling, ONNX semantics as the CPU reference: max / average with one thread per output
// element (same window math, same summation order), global average with one warp per plane.
// Templates over the storage type T: loads widen to fp32, sums in fp32, one rounding on store.
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/pooling_cuda.h"
#include "runtime/backend/cuda/check.h"

namespace dstack::kernels {
namespace {

template <typename T>
__global__ void __launch_bounds__(kPoolBlock) maxpool2d(Pool2dShape s, int out_h, int out_w, int64_t count,
                                                        const T* __restrict__ x, T* __restrict__ y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t plane_size = int64_t(s.h) * s.w;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const Pool2dOutputCoords o = pool2d_output_coords(i, out_h, out_w);
    const Pool2dWindow wh = pool2d_window(o.oh, s.h, s.kernel_h, s.stride_h, s.pad_top, s.pad_bottom);
    const Pool2dWindow ww = pool2d_window(o.ow, s.w, s.kernel_w, s.stride_w, s.pad_left, s.pad_right);
    const T* x_p = x + o.plane * plane_size;
    float m = -INFINITY;
    for (int ih = wh.begin; ih < wh.end; ++ih)
      for (int iw = ww.begin; iw < ww.end; ++iw) {
        const float v = to_f32(x_p[int64_t(ih) * s.w + iw]);
        m = m < v ? v : m;  // as std::max(m, v) in the reference
      }
    y[i] = from_f32<T>(m);  // exact: m is one of the stored values (or -inf)
  }
}

template <typename T>
__global__ void __launch_bounds__(kPoolBlock) avgpool2d(Pool2dShape s, int out_h, int out_w, int64_t count,
                                                        const T* __restrict__ x, T* __restrict__ y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t plane_size = int64_t(s.h) * s.w;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const Pool2dOutputCoords o = pool2d_output_coords(i, out_h, out_w);
    const Pool2dWindow wh = pool2d_window(o.oh, s.h, s.kernel_h, s.stride_h, s.pad_top, s.pad_bottom);
    const Pool2dWindow ww = pool2d_window(o.ow, s.w, s.kernel_w, s.stride_w, s.pad_left, s.pad_right);
    const T* x_p = x + o.plane * plane_size;
    float sum = 0.f;
    for (int ih = wh.begin; ih < wh.end; ++ih)
      for (int iw = ww.begin; iw < ww.end; ++iw) sum += to_f32(x_p[int64_t(ih) * s.w + iw]);
    const int taps = s.count_include_pad ? (wh.padded_end - wh.padded_begin) * (ww.padded_end - ww.padded_begin)
                                         : (wh.end - wh.begin) * (ww.end - ww.begin);
    y[i] = from_f32<T>(sum / float(taps));
  }
}

// One warp per plane: lanes stride over the plane, then a shuffle tree; lane 0 writes the mean.
template <typename T>
__global__ void __launch_bounds__(32 * kGlobalAvgPoolWarpsPerBlock)
    global_avgpool(int64_t planes, int hw, const T* __restrict__ x, T* __restrict__ y) {
  const int lane = int(threadIdx.x) & 31;
  const int64_t warp = int64_t(blockIdx.x) * kGlobalAvgPoolWarpsPerBlock + (threadIdx.x >> 5);
  const int64_t warp_stride = int64_t(gridDim.x) * kGlobalAvgPoolWarpsPerBlock;
  // The loop bound is the same for all 32 lanes of a warp, so the full-mask shuffles are safe.
  for (int64_t plane = warp; plane < planes; plane += warp_stride) {
    const T* x_p = x + plane * hw;
    float sum = 0.f;
    for (int i = lane; i < hw; i += 32) sum += to_f32(x_p[i]);
    for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, offset);
    if (lane == 0) y[plane] = from_f32<T>(sum / float(hw));
  }
}

dim3 to_dim3(const Dim3& d) { return dim3(d.x, d.y, d.z); }

// True when there is work; false for n == 0 or c == 0 (nothing to do). Throws for invalid shapes.
bool check_shape(const Pool2dShape& s, const char* op) {
  if (s.n == 0 || s.c == 0) {
    if (s.n < 0 || s.c < 0) throw std::invalid_argument(std::string(op) + ": negative batch or channels");
    return false;
  }
  if (const char* why = pool2d_shape_error(s)) throw std::invalid_argument(std::string(op) + ": " + why);
  if (s.out_h() < 1 || s.out_w() < 1) throw std::invalid_argument(std::string(op) + ": empty output");
  return true;
}

}  // namespace

template <typename T>
void maxpool2d_cuda(const Pool2dShape& s, const T* x, T* y, cudaStream_t stream) {
  if (!check_shape(s, "maxpool2d_cuda")) return;
  const int out_h = s.out_h(), out_w = s.out_w();
  const int64_t count = int64_t(s.n) * s.c * out_h * out_w;
  const LaunchGeometry g = maxpool2d_launch(s, precision_of<T>());
  if (count == 0 || g.grid.x == 0) return;
  maxpool2d<T><<<to_dim3(g.grid), to_dim3(g.block), g.shared_bytes, stream>>>(s, out_h, out_w, count, x, y);
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void avgpool2d_cuda(const Pool2dShape& s, const T* x, T* y, cudaStream_t stream) {
  if (!check_shape(s, "avgpool2d_cuda")) return;
  const int out_h = s.out_h(), out_w = s.out_w();
  const int64_t count = int64_t(s.n) * s.c * out_h * out_w;
  const LaunchGeometry g = avgpool2d_launch(s, precision_of<T>());
  if (count == 0 || g.grid.x == 0) return;
  avgpool2d<T><<<to_dim3(g.grid), to_dim3(g.block), g.shared_bytes, stream>>>(s, out_h, out_w, count, x, y);
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void global_avgpool_cuda(int n, int c, int hw, const T* x, T* y, cudaStream_t stream) {
  if (n < 0 || c < 0 || hw < 0) throw std::invalid_argument("global_avgpool_cuda: negative size");
  const int64_t planes = int64_t(n) * c;
  if (planes == 0) return;
  if (hw < 1) throw std::invalid_argument("global_avgpool_cuda: empty plane (hw < 1)");
  const LaunchGeometry g = global_avgpool_launch(n, c, hw, precision_of<T>());
  if (g.grid.x == 0) return;
  global_avgpool<T><<<to_dim3(g.grid), to_dim3(g.block), g.shared_bytes, stream>>>(planes, hw, x, y);
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

#define DSTACK_INSTANTIATE_POOLING(T)                                                     \
  template void maxpool2d_cuda<T>(const Pool2dShape&, const T*, T*, cudaStream_t);         \
  template void avgpool2d_cuda<T>(const Pool2dShape&, const T*, T*, cudaStream_t);         \
  template void global_avgpool_cuda<T>(int, int, int, const T*, T*, cudaStream_t);
DSTACK_INSTANTIATE_FOR_STORAGE_TYPES(DSTACK_INSTANTIATE_POOLING)
#undef DSTACK_INSTANTIATE_POOLING

}  // namespace dstack::kernels
