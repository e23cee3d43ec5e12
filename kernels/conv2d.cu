// CUDA 2-D convolution: an implicit-GEMM kernel for every shape (SIMT at fp32, tensor cores via
// nvcuda::wmma at fp16 / bf16) and a direct kernel for depthwise shapes at every precision. Launch
// geometry and the shared index math live in kernels/conv2d.h.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/activation.h"
#include "kernels/conv2d.h"
#include "kernels/conv2d_cuda.h"
#include "kernels/convert_cuda.h"
#include "kernels/gemm_tc_tile.cuh"
#include "runtime/backend/cuda/check.h"

namespace dstack::kernels {
namespace {

using conv2d_gemm::kLoadsA;
using conv2d_gemm::kLoadsB;
using conv2d_gemm::kPadA;
using conv2d_gemm::kThreadM;
using conv2d_gemm::kThreadN;
using conv2d_gemm::kThreads;
using conv2d_gemm::kTileK;
using conv2d_gemm::kTileM;
using conv2d_gemm::kTileN;

using ATile = float[kTileK][kTileM + kPadA];  // a_tile[kk][m] = W_g[m0 + m, k0 + kk] (transposed)
using BTile = float[kTileK][kTileN];          // b_tile[kk][n] = X_g[k0 + kk, n0 + n] (gathered im2col)
static_assert(sizeof(ATile) + sizeof(BTile) == conv2d_gemm::kSharedBytes,
              "conv2d_implicit_gemm_launch reports the kernel's shared memory");

// Block (x, y, z) computes the 64x64 tile Y_g[m0 : m0 + 64, n0 : n0 + 64] of group z, m0 = 64 y,
// n0 = 64 x. Per 16-wide reduction slice: every thread loads 4 A and 4 B elements into registers
// (zero past M, N, K or in the padding), stores them to shared memory, and after a barrier
// accumulates its 4x4 micro-tile; the next slice's global loads are issued before that arithmetic.
// Launched for T = float.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    conv2d_implicit_gemm(Conv2dShape s, const T* __restrict__ x, const T* __restrict__ w,
                         const T* __restrict__ bias, const T* __restrict__ residual, ActivationParams act,
                         T* __restrict__ y) {
  __shared__ __align__(16) ATile a_tile;
  __shared__ __align__(16) BTile b_tile;

  const int tid = int(threadIdx.x);
  const int group = int(blockIdx.z);
  const int gemm_m = s.k_per_group();
  const int gemm_k = int(conv2d_gemm_reduction(s));  // launcher checked it fits
  const int64_t gemm_n = conv2d_gemm_columns(s);
  const int m0 = int(blockIdx.y) * kTileM;
  const int64_t n0 = int64_t(blockIdx.x) * kTileN;
  const T* w_group = w + int64_t(group) * gemm_m * gemm_k;

  // The B column this thread gathers is fixed for the whole block: decode its pixel once.
  const int b_n = conv2d_gemm_load_b_n(tid);
  const Conv2dGemmColumn column = conv2d_gemm_column(s, group, n0 + b_n);  // invalid past N

  float a_regs[kLoadsA];
  float b_regs[kLoadsB];
  auto load_slice = [&](int k0) {
#pragma unroll
    for (int l = 0; l < kLoadsA; ++l) {
      const int m = m0 + conv2d_gemm_load_a_m(tid, l);
      const int kk = k0 + conv2d_gemm_load_a_k(tid, l);
      a_regs[l] = (m < gemm_m && kk < gemm_k) ? to_f32(w_group[int64_t(m) * gemm_k + kk]) : 0.f;
    }
#pragma unroll
    for (int l = 0; l < kLoadsB; ++l) {
      const int64_t offset = conv2d_gemm_gather(s, column, k0 + conv2d_gemm_load_b_k(tid, l));
      b_regs[l] = offset >= 0 ? to_f32(x[offset]) : 0.f;
    }
  };

  float acc[kThreadM][kThreadN];
#pragma unroll
  for (int i = 0; i < kThreadM; ++i)
#pragma unroll
    for (int j = 0; j < kThreadN; ++j) acc[i][j] = 0.f;

  load_slice(0);
  for (int k0 = 0; k0 < gemm_k; k0 += kTileK) {
    // The previous iteration's trailing barrier guarantees nobody still reads the tiles.
#pragma unroll
    for (int l = 0; l < kLoadsA; ++l) a_tile[conv2d_gemm_load_a_k(tid, l)][conv2d_gemm_load_a_m(tid, l)] = a_regs[l];
#pragma unroll
    for (int l = 0; l < kLoadsB; ++l) b_tile[conv2d_gemm_load_b_k(tid, l)][b_n] = b_regs[l];
    __syncthreads();

    if (k0 + kTileK < gemm_k) load_slice(k0 + kTileK);  // in flight during the arithmetic below

#pragma unroll
    for (int kk = 0; kk < kTileK; ++kk) {
      float a[kThreadM], b[kThreadN];
#pragma unroll
      for (int i = 0; i < kThreadM; ++i) a[i] = a_tile[kk][conv2d_gemm_thread_m(tid, i)];
#pragma unroll
      for (int j = 0; j < kThreadN; ++j) b[j] = b_tile[kk][conv2d_gemm_thread_n(tid, j)];
#pragma unroll
      for (int i = 0; i < kThreadM; ++i)
#pragma unroll
        for (int j = 0; j < kThreadN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }

  // Fused epilogue, in conv2d_ref's order: ((conv + bias) + residual), then the activation.
#pragma unroll
  for (int i = 0; i < kThreadM; ++i) {
    const int m = m0 + conv2d_gemm_thread_m(tid, i);
    if (m >= gemm_m) continue;
    const int out_channel = group * gemm_m + m;
    const float b = bias != nullptr ? to_f32(bias[out_channel]) : 0.f;
#pragma unroll
    for (int j = 0; j < kThreadN; ++j) {
      const int64_t col = n0 + conv2d_gemm_thread_n(tid, j);
      if (col >= gemm_n) continue;
      const int64_t offset = conv2d_output_offset(s, out_channel, col);
      float v = acc[i][j] + b;
      if (residual != nullptr) v += to_f32(residual[offset]);
      y[offset] = from_f32<T>(apply_activation(act, v));
    }
  }
}

// Tensor-core implicit GEMM for T = __half / __nv_bfloat16 (tiling in kernels/conv2d.h and, shared
// with the tensor-core GEMM, kernels/gemm.h). Block (x, y, z) computes the 64x64 tile
// Y_g[m0 : m0 + 64, n0 : n0 + 64] of group z. Per 32-wide reduction slice the block stages the
// weight tile a_tile[m][kk] and the gathered input tile b_tile[kk][n] in shared memory, stored values
// unchanged and zero past M, N, K and in the padding; each warp then runs its 2 x 2 fragments through
// 2 wmma k-steps. The fp32 accumulators go through shared memory to the fused epilogue, which adds
// bias and residual in conv2d_ref's order, applies the activation and rounds once on store.
template <typename T>
__global__ void __launch_bounds__(gemm_tc::kThreads)
    conv2d_implicit_gemm_tc(Conv2dShape s, const T* __restrict__ x, const T* __restrict__ w,
                            const T* __restrict__ bias, const T* __restrict__ residual, ActivationParams act,
                            T* __restrict__ y) {
  using gemm_tc::kLdA;
  using gemm_tc::kLdB;
  using gemm_tc::kLdC;
  __shared__ __align__(32) T a_tile[gemm_tc::kTileM][kLdA];
  __shared__ __align__(32) T b_tile[gemm_tc::kTileK][kLdB];
  __shared__ __align__(32) float c_tile[gemm_tc::kTileM][kLdC];

  const int tid = int(threadIdx.x);
  const int warp = tid / 32;
  const int warp_row = gemm_tc_warp_row(warp), warp_col = gemm_tc_warp_col(warp);
  const int group = int(blockIdx.z);
  const int gemm_m = s.k_per_group();
  const int gemm_k = int(conv2d_gemm_reduction(s));  // launcher checked it fits
  const int64_t gemm_n = conv2d_gemm_columns(s);
  const int m0 = int(blockIdx.y) * gemm_tc::kTileM;
  const int64_t n0 = int64_t(blockIdx.x) * gemm_tc::kTileN;
  const T* w_group = w + int64_t(group) * gemm_m * gemm_k;
  const T zero = from_f32<T>(0.f);

  const int b_n = conv2d_tc_load_b_n(tid);
  const Conv2dGemmColumn column = conv2d_gemm_column(s, group, n0 + b_n);  // invalid past N

  gemm_tc::Accumulators acc;
  gemm_tc::zero_accumulators(acc);

  for (int k0 = 0; k0 < gemm_k; k0 += gemm_tc::kTileK) {
    // Partly unrolled: the gathers' index math is heavy, full unrolling only costs registers.
#pragma unroll 4
    for (int l = 0; l < gemm_tc::kLoadsA; ++l) {
      const GemmTileCoord t = gemm_tc_load_a(tid, l);
      const int m = m0 + t.mn, kk = k0 + t.kk;
      a_tile[t.mn][t.kk] = (m < gemm_m && kk < gemm_k) ? w_group[int64_t(m) * gemm_k + kk] : zero;
    }
#pragma unroll 4
    for (int l = 0; l < gemm_tc::kLoadsB; ++l) {
      const int kk = conv2d_tc_load_b_k(tid, l);
      const int64_t offset = conv2d_gemm_gather(s, column, k0 + kk);  // -1 past K, past N, in padding
      b_tile[kk][b_n] = offset >= 0 ? x[offset] : zero;
    }
    __syncthreads();  // tiles complete before any warp reads them

    gemm_tc::multiply_slice(acc, &a_tile[0][0], &b_tile[0][0], warp_row, warp_col);
    __syncthreads();  // every warp done reading before the next slice overwrites the tiles
  }

  gemm_tc::store_accumulators(&c_tile[0][0], acc, warp_row, warp_col);
  __syncthreads();

#pragma unroll 4
  for (int l = 0; l < gemm_tc::kEpiloguePerThread; ++l) {
    const GemmTileCoord t = gemm_tc_epilogue(tid, l);
    const int m = m0 + t.mn;
    const int64_t col = n0 + t.kk;
    if (m >= gemm_m || col >= gemm_n) continue;
    const int out_channel = group * gemm_m + m;
    const int64_t offset = conv2d_output_offset(s, out_channel, col);
    float v = c_tile[t.mn][t.kk] + (bias != nullptr ? to_f32(bias[out_channel]) : 0.f);
    if (residual != nullptr) v += to_f32(residual[offset]);
    y[offset] = from_f32<T>(apply_activation(act, v));
  }
}

// Depthwise (groups == c == k): one thread per output element (grid-stride past the grid limit),
// taps in (kr, ks) order as in conv2d_ref, padding taps skipped.
// Every T: loads widen to fp32, the sum and epilogue run in fp32.
template <typename T>
__global__ void __launch_bounds__(kConv2dDepthwiseThreads)
    conv2d_depthwise(Conv2dShape s, const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                     const T* __restrict__ residual, ActivationParams act, T* __restrict__ y) {
  const int64_t total = conv2d_output_count(s);
  const int oh_size = s.out_h(), ow_size = s.out_w();
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < total; idx += step) {
    const int ow = int(idx % ow_size);
    const int64_t rest = idx / ow_size;
    const int oh = int(rest % oh_size);
    const int64_t plane_index = rest / oh_size;  // img * c + channel
    const int channel = int(plane_index % s.c);
    const T* x_plane = x + plane_index * s.h * s.w;
    const T* w_channel = w + int64_t(channel) * s.r * s.s;
    const int ih0 = oh * s.stride_h - s.pad_top;
    const int iw0 = ow * s.stride_w - s.pad_left;
    float acc = 0.f;
    for (int kr = 0; kr < s.r; ++kr) {
      const int ih = ih0 + kr * s.dilation_h;
      if (ih < 0 || ih >= s.h) continue;
      const T* x_row = x_plane + int64_t(ih) * s.w;
      for (int ks = 0; ks < s.s; ++ks) {
        const int iw = iw0 + ks * s.dilation_w;
        if (iw < 0 || iw >= s.w) continue;
        acc = fmaf(to_f32(w_channel[kr * s.s + ks]), to_f32(x_row[iw]), acc);
      }
    }
    float v = acc + (bias != nullptr ? to_f32(bias[channel]) : 0.f);
    if (residual != nullptr) v += to_f32(residual[idx]);
    y[idx] = from_f32<T>(apply_activation(act, v));
  }
}

dim3 to_dim3(const Dim3& d) { return dim3(d.x, d.y, d.z); }

}  // namespace

template <typename T>
void conv2d_cuda(const Conv2dShape& s, const T* x, const T* w, nondeduced<const T*> bias,
                 nondeduced<const T*> residual, ActivationParams act, T* y, cudaStream_t stream) {
  if (const char* error = conv2d_shape_error(s)) throw std::invalid_argument(std::string("conv2d_cuda: ") + error);
  if (x == nullptr || w == nullptr || y == nullptr)
    throw std::invalid_argument("conv2d_cuda: x, w and y must be non-null device pointers");
  if (conv2d_gemm_reduction(s) > INT32_MAX)
    throw std::invalid_argument("conv2d_cuda: (c / groups) * r * s exceeds 2^31 - 1");

  const Precision precision = precision_of<T>();
  const Conv2dAlgorithm algorithm = conv2d_algorithm(s, precision);
  const LaunchGeometry geometry = conv2d_launch(s, precision);
  if (geometry.grid.count() == 0 || geometry.block.count() == 0) return;  // nothing to compute
  if (geometry.grid.x > kConv2dMaxGridX || geometry.grid.y > kConv2dMaxGridYZ || geometry.grid.z > kConv2dMaxGridYZ)
    throw std::invalid_argument("conv2d_cuda: shape exceeds the CUDA grid limits (" + geometry.kernel + ")");

  const dim3 grid = to_dim3(geometry.grid), block = to_dim3(geometry.block);
  // Every kernel uses static shared memory only (geometry.shared_bytes counts it): no dynamic part.
  switch (algorithm) {
    case Conv2dAlgorithm::Depthwise:
      conv2d_depthwise<T><<<grid, block, 0, stream>>>(s, x, w, bias, residual, act, y);
      break;
    case Conv2dAlgorithm::ImplicitGemm:
      if constexpr (std::is_same_v<T, float>)
        conv2d_implicit_gemm<T><<<grid, block, 0, stream>>>(s, x, w, bias, residual, act, y);
      break;
    case Conv2dAlgorithm::ImplicitGemmTensorCore:
      if constexpr (!std::is_same_v<T, float>)
        conv2d_implicit_gemm_tc<T><<<grid, block, 0, stream>>>(s, x, w, bias, residual, act, y);
      break;
  }
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

#define DSTACK_INSTANTIATE_CONV2D(T)                                                                            \
  template void conv2d_cuda<T>(const Conv2dShape&, const T*, const T*, const T*, const T*, ActivationParams, T*, \
                               cudaStream_t);
DSTACK_INSTANTIATE_FOR_STORAGE_TYPES(DSTACK_INSTANTIATE_CONV2D)
#undef DSTACK_INSTANTIATE_CONV2D

}  // namespace dstack::kernels
