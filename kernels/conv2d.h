#pragma once
// 2-D convolution (NCHW activations, KCRS weights), with stride, asymmetric padding, dilation and
// groups (depthwise when groups == C == K). Batch-norm is folded into weight and bias before this
// sees them. Fused epilogue: y = act(conv(x, w) + bias + residual).
#include <cstddef>
#include <cstdint>

#include <string>

#include "kernels/activation.h"
#include "kernels/gemm.h"
#include "kernels/host_device.h"
#include "kernels/launch.h"
#include "kernels/precision.h"

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

// ---------------------------------------------------------------------------------------------
// CUDA kernels (kernels/conv2d.cu, launcher conv2d_cuda in kernels/conv2d_cuda.h): which algorithm a
// shape takes, each kernel's launch geometry, and the index math the kernels share with the CPU
// tests. Everything below assumes a valid shape (conv2d_shape_error(s) == nullptr).

enum class Conv2dAlgorithm {
  ImplicitGemm,            // conv2d_implicit_gemm<float>: any shape at fp32 (SIMT)
  ImplicitGemmTensorCore,  // conv2d_implicit_gemm_tc<T>: any shape at fp16 / bf16 (wmma)
  Depthwise,               // conv2d_depthwise<T>: groups == c == k at every precision, one thread per output
};

inline Conv2dAlgorithm conv2d_algorithm(const Conv2dShape& s, Precision p = Precision::F32) {
  if (s.groups == s.c && s.groups == s.k) return Conv2dAlgorithm::Depthwise;
  return p == Precision::F32 ? Conv2dAlgorithm::ImplicitGemm : Conv2dAlgorithm::ImplicitGemmTensorCore;
}

inline const char* conv2d_algorithm_name(Conv2dAlgorithm a) {
  switch (a) {
    case Conv2dAlgorithm::ImplicitGemm: return "implicit_gemm";
    case Conv2dAlgorithm::ImplicitGemmTensorCore: return "implicit_gemm_tc";
    case Conv2dAlgorithm::Depthwise: return "depthwise";
  }
  return "implicit_gemm";
}

// Implicit GEMM, per group g (blockIdx.z): Y_g[M, N] = W_g[M, K] x X_g[K, N] with
//   M = k / groups (output channels of the group), N = n * oh * ow (output pixels of every image),
//   K = (c / groups) * r * s (reduction: input channel, filter row, filter column; the KCRS order).
// Column col of X_g is pixel (img, oh, ow) = (col / (oh*ow), col % (oh*ow) / ow, col % ow); its row
// kk = (ci * r + kr) * s + ks reads x[img, g*cpg + ci, oh*stride_h - pad_top + kr*dilation_h,
// ow*stride_w - pad_left + ks*dilation_w], or 0 in the padding. Nothing is materialized: each block
// gathers its B tile from x while loading it.
namespace conv2d_gemm {
inline constexpr int kTileM = 64;    // output channels per block (blockIdx.y)
inline constexpr int kTileN = 64;    // output pixels per block (blockIdx.x)
inline constexpr int kTileK = 16;    // reduction slice per shared-memory stage
inline constexpr int kThreads = 256;
inline constexpr int kThreadM = 4;   // register micro-tile: kThreadM x kThreadN outputs per thread
inline constexpr int kThreadN = 4;
inline constexpr int kThreadsM = kTileM / kThreadM;  // 16
inline constexpr int kThreadsN = kTileN / kThreadN;  // 16
inline constexpr int kLoadsA = kTileM * kTileK / kThreads;  // A (weight) elements each thread loads per stage
inline constexpr int kLoadsB = kTileK * kTileN / kThreads;  // B (gathered input) elements per stage
inline constexpr int kPadA = 4;      // a_tile[kTileK][kTileM + kPadA]: spreads the transposing stores over banks
inline constexpr std::size_t kSharedBytes =
    sizeof(float) * (std::size_t(kTileK) * (kTileM + kPadA) + std::size_t(kTileK) * kTileN);
static_assert(kThreadsM * kThreadsN == kThreads, "one micro-tile per thread");
static_assert(kTileM * kTileK % kThreads == 0 && kTileK * kTileN % kThreads == 0, "even tile loads");
static_assert(kThreads % kTileN == 0, "each thread gathers a single B column");
}  // namespace conv2d_gemm

// Micro-tile element (i, j) of thread tid is tile row conv2d_gemm_thread_m(tid, i) and tile column
// conv2d_gemm_thread_n(tid, j) (strided, so that a warp's shared-memory reads hit distinct banks).
DSTACK_HD int conv2d_gemm_thread_m(int tid, int i) {
  return tid / conv2d_gemm::kThreadsN + conv2d_gemm::kThreadsM * i;
}
DSTACK_HD int conv2d_gemm_thread_n(int tid, int j) {
  return tid % conv2d_gemm::kThreadsN + conv2d_gemm::kThreadsN * j;
}
// Load l (0 <= l < kLoadsA) of thread tid fetches A tile element (row m, reduction kk); consecutive
// threads read consecutive kk, i.e. contiguous weights.
DSTACK_HD int conv2d_gemm_load_a_m(int tid, int l) { return (tid + conv2d_gemm::kThreads * l) / conv2d_gemm::kTileK; }
DSTACK_HD int conv2d_gemm_load_a_k(int tid, int l) { return (tid + conv2d_gemm::kThreads * l) % conv2d_gemm::kTileK; }
// Load l (0 <= l < kLoadsB) of thread tid fetches B tile element (reduction kk, column n); the column
// is the same for every l, so each thread decodes its output pixel once per block.
DSTACK_HD int conv2d_gemm_load_b_n(int tid) { return tid % conv2d_gemm::kTileN; }
DSTACK_HD int conv2d_gemm_load_b_k(int tid, int l) {
  return tid / conv2d_gemm::kTileN + (conv2d_gemm::kThreads / conv2d_gemm::kTileN) * l;
}

// GEMM column count N = n * oh * ow.
DSTACK_HD int64_t conv2d_gemm_columns(const Conv2dShape& s) { return int64_t(s.n) * s.out_h() * s.out_w(); }
// GEMM reduction length K = (c / groups) * r * s, as int64 (the launcher refuses K > INT32_MAX).
DSTACK_HD int64_t conv2d_gemm_reduction(const Conv2dShape& s) { return int64_t(s.c_per_group()) * s.r * s.s; }
// Elements of y: n * k * oh * ow.
DSTACK_HD int64_t conv2d_output_count(const Conv2dShape& s) {
  return int64_t(s.n) * s.k * s.out_h() * s.out_w();
}

// One GEMM column (output pixel) of one group, decoded once: where its image/group starts in x and
// the input coordinates of its top-left filter tap. valid is false for columns past N.
struct Conv2dGemmColumn {
  int64_t x_base = 0;  // offset of x[img, g * cpg, 0, 0]
  int ih0 = 0, iw0 = 0;
  bool valid = false;
};

DSTACK_HD Conv2dGemmColumn conv2d_gemm_column(const Conv2dShape& s, int group, int64_t col) {
  Conv2dGemmColumn out;
  const int oh_size = s.out_h(), ow_size = s.out_w();
  const int64_t plane = int64_t(oh_size) * ow_size;
  if (col < 0 || col >= int64_t(s.n) * plane || group < 0 || group >= s.groups) return out;
  const int64_t img = col / plane;
  const int64_t p = col - img * plane;
  const int oh = int(p / ow_size), ow = int(p % ow_size);
  out.x_base = (img * s.c + int64_t(group) * s.c_per_group()) * s.h * s.w;
  out.ih0 = oh * s.stride_h - s.pad_top;
  out.iw0 = ow * s.stride_w - s.pad_left;
  out.valid = true;
  return out;
}

// Offset into x of im2col element (row kk, column) for a decoded column, or -1 where the element is
// zero: a padding tap, kk outside [0, K), or an invalid column.
DSTACK_HD int64_t conv2d_gemm_gather(const Conv2dShape& s, const Conv2dGemmColumn& column, int kk) {
  const int taps = s.r * s.s;
  if (!column.valid || kk < 0 || int64_t(kk) >= int64_t(s.c_per_group()) * taps) return -1;
  const int ci = kk / taps;
  const int tap = kk - ci * taps;
  const int kr = tap / s.s;
  const int ks = tap - kr * s.s;
  const int ih = column.ih0 + kr * s.dilation_h;
  const int iw = column.iw0 + ks * s.dilation_w;
  if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) return -1;
  return column.x_base + (int64_t(ci) * s.h + ih) * s.w + iw;
}

// Offset into x of element (kk, col) of group `group`'s im2col matrix, or -1 for zero.
DSTACK_HD int64_t conv2d_im2col_offset(const Conv2dShape& s, int group, int kk, int64_t col) {
  return conv2d_gemm_gather(s, conv2d_gemm_column(s, group, col), kk);
}

// Offset into y (and residual) of output channel out_channel (0 <= out_channel < k) at GEMM column col.
DSTACK_HD int64_t conv2d_output_offset(const Conv2dShape& s, int out_channel, int64_t col) {
  const int64_t plane = int64_t(s.out_h()) * s.out_w();
  const int64_t img = col / plane;
  return (img * s.k + out_channel) * plane + (col - img * plane);
}

// Tensor-core implicit GEMM (fp16 / bf16): the same GEMM view, tiled as the tensor-core GEMM
// (kernels/gemm.h, namespace gemm_tc: 64 x 64 block tile, 32-wide k steps, 4 warps of 2 x 2 wmma
// m16n16k16 fragments, fp32 accumulators stored through shared memory for the epilogue). The A tile
// (weights, k-contiguous) loads with gemm_tc_load_a; the B tile is gathered from x: thread tid
// always gathers column conv2d_tc_load_b_n(tid) (its pixel decoded once per block) at reduction
// rows conv2d_tc_load_b_k(tid, l), l < gemm_tc::kLoadsB. Epilogue element l of thread tid is
// gemm_tc_epilogue(tid, l): (output channel row mn, pixel column kk) of the block tile.
static_assert(gemm_tc::kThreads % gemm_tc::kTileN == 0, "each thread gathers a single B column");
DSTACK_HD int conv2d_tc_load_b_n(int tid) { return tid % gemm_tc::kTileN; }
DSTACK_HD int conv2d_tc_load_b_k(int tid, int l) {
  return tid / gemm_tc::kTileN + (gemm_tc::kThreads / gemm_tc::kTileN) * l;
}

// Depthwise: output element idx (flat NCHW offset into y, k == c) is channel (idx / (oh*ow)) % c.
inline constexpr int kConv2dDepthwiseThreads = 256;
inline constexpr int64_t kConv2dMaxGridX = 2147483647;  // CUDA's limit on gridDim.x
inline constexpr int64_t kConv2dMaxGridYZ = 65535;      // ... and on gridDim.y, gridDim.z

namespace conv2d_detail {
inline unsigned grid_dim(int64_t blocks) {  // saturating; the launcher checks the CUDA limits
  return blocks > int64_t(0xffffffffu) ? 0xffffffffu : unsigned(blocks < 0 ? 0 : blocks);
}
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
}  // namespace conv2d_detail

// "conv2d_implicit_gemm<float>" (fp32): grid (ceil(N / 64), ceil(M / 64), groups), 256 threads,
// static shared memory for one A and one B tile.
inline LaunchGeometry conv2d_implicit_gemm_launch(const Conv2dShape& s) {
  using conv2d_detail::ceil_div;
  using conv2d_detail::grid_dim;
  LaunchGeometry g;
  g.kernel = "conv2d_implicit_gemm<float>";
  g.grid.x = grid_dim(ceil_div(conv2d_gemm_columns(s), conv2d_gemm::kTileN));
  g.grid.y = grid_dim(ceil_div(s.k_per_group(), conv2d_gemm::kTileM));
  g.grid.z = grid_dim(s.groups);
  g.block.x = unsigned(conv2d_gemm::kThreads);
  g.shared_bytes = conv2d_gemm::kSharedBytes;
  return g;
}

// "conv2d_implicit_gemm_tc<T>" (fp16 / bf16): grid (ceil(N / 64), ceil(M / 64), groups), 128 threads,
// static shared memory for the A, B and C tiles (gemm_tc::kSharedBytes).
inline LaunchGeometry conv2d_implicit_gemm_tc_launch(const Conv2dShape& s, Precision p) {
  using conv2d_detail::ceil_div;
  using conv2d_detail::grid_dim;
  LaunchGeometry g;
  g.kernel = std::string("conv2d_implicit_gemm_tc<") + precision_device_type(p) + ">";
  g.grid.x = grid_dim(ceil_div(conv2d_gemm_columns(s), gemm_tc::kTileN));
  g.grid.y = grid_dim(ceil_div(s.k_per_group(), gemm_tc::kTileM));
  g.grid.z = grid_dim(s.groups);
  g.block.x = unsigned(gemm_tc::kThreads);
  g.shared_bytes = gemm_tc::kSharedBytes;
  return g;
}

// "conv2d_depthwise<T>": one thread per output element: grid ceil(n*c*oh*ow / 256) (capped at CUDA's
// gridDim.x limit; the kernel loops grid-stride past it), 256 threads, no shared memory.
inline LaunchGeometry conv2d_depthwise_launch(const Conv2dShape& s, Precision p = Precision::F32) {
  LaunchGeometry g;
  g.kernel = std::string("conv2d_depthwise<") + precision_device_type(p) + ">";
  const int64_t blocks = conv2d_detail::ceil_div(conv2d_output_count(s), kConv2dDepthwiseThreads);
  g.grid.x = conv2d_detail::grid_dim(blocks < kConv2dMaxGridX ? blocks : kConv2dMaxGridX);
  g.block.x = unsigned(kConv2dDepthwiseThreads);
  g.shared_bytes = 0;
  return g;
}

// The geometry of the kernel conv2d_cuda launches for s at precision p.
inline LaunchGeometry conv2d_launch(const Conv2dShape& s, Precision p = Precision::F32) {
  switch (conv2d_algorithm(s, p)) {
    case Conv2dAlgorithm::Depthwise: return conv2d_depthwise_launch(s, p);
    case Conv2dAlgorithm::ImplicitGemmTensorCore: return conv2d_implicit_gemm_tc_launch(s, p);
    case Conv2dAlgorithm::ImplicitGemm: break;
  }
  return conv2d_implicit_gemm_launch(s);
}

}  // namespace dstack::kernels
