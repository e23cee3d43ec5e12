// CUDA GEMM. fp32: tiled SGEMM, 64 x 64 C tile per block, k in steps of 16 through shared memory,
// 256 threads each holding a 4 x 4 register micro-tile. fp16 / bf16: tensor cores through
// nvcuda::wmma (m16n16k16, fp32 accumulator), 64 x 64 C tile per block of 4 warps, k in steps of 32
// through shared memory, the epilogue through a shared-memory C tile. Geometry and index maps come
// from kernels/gemm.h.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/gemm.h"
#include "kernels/convert_cuda.h"
#include "kernels/gemm_tc_tile.cuh"
#include "kernels/gemm_cuda.h"
#include "runtime/backend/cuda/check.h"

namespace dstack::kernels {

namespace {

// One kernel for gemm and batched matmul. Product z of the batch reads a + z * stride_a, etc.
// bias (length n, may be null) and act apply in the epilogue, after alpha. Launched for T = float.
template <typename T>
__global__ void __launch_bounds__(kGemmThreads)
    gemm_tiled(int batch, int m, int n, int k, const T* __restrict__ a, int64_t stride_a, const T* __restrict__ b,
               int64_t stride_b, bool b_transposed, float alpha, const T* __restrict__ bias, ActivationParams act,
               T* __restrict__ c, int64_t stride_c) {
  // k-major tiles: as[kk][row], bs[kk][col]; the pad keeps the transposing stores of k-contiguous
  // tiles to at most 2-way bank conflicts.
  __shared__ float as[kGemmTileK][kGemmTileM + kGemmSmemPad];
  __shared__ float bs[kGemmTileK][kGemmTileN + kGemmSmemPad];

  const int tid = int(threadIdx.x);
  const int64_t row0 = int64_t(blockIdx.y) * kGemmTileM;
  const int64_t col0 = int64_t(blockIdx.x) * kGemmTileN;

  for (int64_t z = blockIdx.z; z < batch; z += gridDim.z) {  // uniform across the block
    const T* a_z = a + z * stride_a;
    const T* b_z = b + z * stride_b;
    T* c_z = c + z * stride_c;

    float acc[kGemmMicro][kGemmMicro];
#pragma unroll
    for (int i = 0; i < kGemmMicro; ++i)
#pragma unroll
      for (int j = 0; j < kGemmMicro; ++j) acc[i][j] = 0.f;

    for (int64_t k0 = 0; k0 < k; k0 += kGemmTileK) {
      // Stage the A tile (rows row0.., k k0..) and the B' tile (k k0.., cols col0..); zero outside.
#pragma unroll
      for (int l = 0; l < kGemmLoadsPerThread; ++l) {
        const GemmTileCoord t = gemm_load_k_contiguous(gemm_load_index(tid, l));
        const int64_t r = row0 + t.mn, p = k0 + t.kk;
        as[t.kk][t.mn] = gemm_in_bounds(r, p, m, k) ? to_f32(a_z[gemm_a_offset(r, p, k)]) : 0.f;
      }
#pragma unroll
      for (int l = 0; l < kGemmLoadsPerThread; ++l) {
        const int e = gemm_load_index(tid, l);
        const GemmTileCoord t = b_transposed ? gemm_load_k_contiguous(e) : gemm_load_n_contiguous(e);
        const int64_t p = k0 + t.kk, cc = col0 + t.mn;
        bs[t.kk][t.mn] = gemm_in_bounds(p, cc, k, n) ? to_f32(b_z[gemm_b_offset(p, cc, n, k, b_transposed)]) : 0.f;
      }
      __syncthreads();  // tiles complete before anyone reads them

#pragma unroll
      for (int kk = 0; kk < kGemmTileK; ++kk) {
        float a_frag[kGemmMicro], b_frag[kGemmMicro];
#pragma unroll
        for (int i = 0; i < kGemmMicro; ++i) a_frag[i] = as[kk][gemm_thread_row(tid, i)];
#pragma unroll
        for (int j = 0; j < kGemmMicro; ++j) b_frag[j] = bs[kk][gemm_thread_col(tid, j)];
#pragma unroll
        for (int i = 0; i < kGemmMicro; ++i)
#pragma unroll
          for (int j = 0; j < kGemmMicro; ++j) acc[i][j] = fmaf(a_frag[i], b_frag[j], acc[i][j]);
      }
      __syncthreads();  // everyone done reading before the next step overwrites the tiles
    }

#pragma unroll
    for (int i = 0; i < kGemmMicro; ++i) {
      const int64_t r = row0 + gemm_thread_row(tid, i);
#pragma unroll
      for (int j = 0; j < kGemmMicro; ++j) {
        const int64_t cc = col0 + gemm_thread_col(tid, j);
        if (gemm_in_bounds(r, cc, m, n)) {
          const float v = alpha * acc[i][j] + (bias != nullptr ? to_f32(bias[cc]) : 0.f);
          c_z[gemm_c_offset(r, cc, n)] = from_f32<T>(apply_activation(act, v));
        }
      }
    }
  }
}

// Tensor-core GEMM for T = __half / __nv_bfloat16, same contract as gemm_tiled (see kernels/gemm.h
// for the tiling). Tiles hold the stored 16-bit values unchanged (zero past M, N, K), so the products
// are exact and only the fp32 accumulation order differs from the SIMT kernel.
template <typename T>
__global__ void __launch_bounds__(gemm_tc::kThreads)
    gemm_tc(int batch, int m, int n, int k, const T* __restrict__ a, int64_t stride_a, const T* __restrict__ b,
            int64_t stride_b, bool b_transposed, float alpha, const T* __restrict__ bias, ActivationParams act,
            T* __restrict__ c, int64_t stride_c) {
  using namespace gemm_tc;
  __shared__ __align__(32) T as[kTileM][kLdA];    // as[row][kk] = A[row0 + row, k0 + kk]
  __shared__ __align__(32) T bs[kTileK][kLdB];    // bs[kk][col] = B'[k0 + kk, col0 + col]
  __shared__ __align__(32) float cs[kTileM][kLdC];  // the block's accumulators, for the epilogue

  const int tid = int(threadIdx.x);
  const int warp = tid / 32;
  const int64_t row0 = int64_t(blockIdx.y) * kTileM;
  const int64_t col0 = int64_t(blockIdx.x) * kTileN;
  const int warp_row = gemm_tc_warp_row(warp), warp_col = gemm_tc_warp_col(warp);
  const T zero = from_f32<T>(0.f);

  for (int64_t z = blockIdx.z; z < batch; z += gridDim.z) {  // uniform across the block
    const T* a_z = a + z * stride_a;
    const T* b_z = b + z * stride_b;
    T* c_z = c + z * stride_c;

    Accumulators acc;
    zero_accumulators(acc);

    for (int64_t k0 = 0; k0 < k; k0 += kTileK) {
      // Partly unrolled: full unrolling of 16 predicated 64-bit-indexed loads only costs registers.
#pragma unroll 4
      for (int l = 0; l < kLoadsA; ++l) {
        const GemmTileCoord t = gemm_tc_load_a(tid, l);
        const int64_t r = row0 + t.mn, p = k0 + t.kk;
        as[t.mn][t.kk] = gemm_in_bounds(r, p, m, k) ? a_z[gemm_a_offset(r, p, k)] : zero;
      }
#pragma unroll 4
      for (int l = 0; l < kLoadsB; ++l) {
        const GemmTileCoord t = gemm_tc_load_b(tid, l, b_transposed);
        const int64_t p = k0 + t.kk, cc = col0 + t.mn;
        bs[t.kk][t.mn] = gemm_in_bounds(p, cc, k, n) ? b_z[gemm_b_offset(p, cc, n, k, b_transposed)] : zero;
      }
      __syncthreads();  // tiles complete before any warp reads them

      multiply_slice(acc, &as[0][0], &bs[0][0], warp_row, warp_col);
      __syncthreads();  // every warp done reading before the next step overwrites the tiles
    }

    store_accumulators(&cs[0][0], acc, warp_row, warp_col);
    __syncthreads();
#pragma unroll 4
    for (int l = 0; l < kEpiloguePerThread; ++l) {
      const GemmTileCoord t = gemm_tc_epilogue(tid, l);
      const int64_t r = row0 + t.mn, cc = col0 + t.kk;
      if (gemm_in_bounds(r, cc, m, n)) {
        const float v = alpha * cs[t.mn][t.kk] + (bias != nullptr ? to_f32(bias[cc]) : 0.f);
        c_z[gemm_c_offset(r, cc, n)] = from_f32<T>(apply_activation(act, v));
      }
    }
    __syncthreads();  // the C tile is read before the next product of the batch overwrites it
  }
}
static_assert(sizeof(__half) == 2 && sizeof(__nv_bfloat16) == 2, "gemm_tc::kSharedBytes assumes 16-bit tiles");

std::string shape_string(int batch, int m, int n, int k) {
  return "batch " + std::to_string(batch) + ", m " + std::to_string(m) + ", n " + std::to_string(n) + ", k " +
         std::to_string(k);
}

// Validates, takes the geometry from batched_matmul_launch and launches (nothing for zero-size work).
template <typename T>
void launch_gemm(int batch, int m, int n, int k, const T* a, int64_t stride_a, const T* b, int64_t stride_b,
                 bool b_transposed, float alpha, const T* bias, ActivationParams act, T* c, int64_t stride_c,
                 cudaStream_t stream) {
  // Throws on negative / too-large shapes.
  const LaunchGeometry g = batched_matmul_launch(batch, m, n, k, precision_of<T>());
  if (g.grid.count() == 0) return;
  if (c == nullptr) throw std::invalid_argument("gemm: null output pointer (" + shape_string(batch, m, n, k) + ")");
  if (k > 0 && (a == nullptr || b == nullptr))
    throw std::invalid_argument("gemm: null input pointer (" + shape_string(batch, m, n, k) + ")");
  const int64_t c_size = int64_t(m) * n;
  if (batch > 1 && (stride_c < 0 ? -stride_c : stride_c) < c_size)
    throw std::invalid_argument("batched_matmul: output stride " + std::to_string(stride_c) +
                                " makes outputs overlap (each is m * n = " + std::to_string(c_size) + " elements)");
  const dim3 grid(g.grid.x, g.grid.y, g.grid.z), block(g.block.x, g.block.y, g.block.z);
  if constexpr (std::is_same_v<T, float>)
    gemm_tiled<T><<<grid, block, 0, stream>>>(batch, m, n, k, a, stride_a, b, stride_b, b_transposed, alpha, bias, act,
                                              c, stride_c);
  else
    gemm_tc<T><<<grid, block, 0, stream>>>(batch, m, n, k, a, stride_a, b, stride_b, b_transposed, alpha, bias, act, c,
                                           stride_c);
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

template <typename T>
void gemm_cuda(int m, int n, int k, const T* a, const T* b, bool b_transposed, float alpha,
               nondeduced<const T*> bias, ActivationParams act, T* c, cudaStream_t stream) {
  launch_gemm<T>(1, m, n, k, a, 0, b, 0, b_transposed, alpha, bias, act, c, 0, stream);
}

template <typename T>
void batched_matmul_cuda(int batch, int m, int n, int k, const T* a, int64_t stride_a, const T* b, int64_t stride_b,
                         float alpha, T* c, int64_t stride_c, cudaStream_t stream) {
  launch_gemm<T>(batch, m, n, k, a, stride_a, b, stride_b, false, alpha, nullptr, ActivationParams{}, c, stride_c,
                 stream);
}

#define DSTACK_INSTANTIATE_GEMM(T)                                                                               \
  template void gemm_cuda<T>(int, int, int, const T*, const T*, bool, float, const T*, ActivationParams, T*,     \
                             cudaStream_t);                                                                      \
  template void batched_matmul_cuda<T>(int, int, int, int, const T*, int64_t, const T*, int64_t, float, T*, int64_t, \
                                       cudaStream_t);
DSTACK_INSTANTIATE_FOR_STORAGE_TYPES(DSTACK_INSTANTIATE_GEMM)
#undef DSTACK_INSTANTIATE_GEMM

}  // namespace dstack::kernels
