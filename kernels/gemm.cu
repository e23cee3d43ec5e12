// CUDA tiled SGEMM: 64 x 64 C tile per block, k in steps of 16 through shared memory, 256 threads
// each holding a 4 x 4 register micro-tile. Geometry and index maps come from kernels/gemm.h.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/gemm.h"
#include "kernels/gemm_cuda.h"
#include "runtime/backend/cuda/check.h"

namespace dstack::kernels {

namespace {

// One kernel for gemm and batched matmul. Product z of the batch reads a + z * stride_a, etc.
// bias (length n, may be null) and act apply in the epilogue, after alpha.
__global__ void __launch_bounds__(kGemmThreads)
    gemm_tiled_f32(int batch, int m, int n, int k, const float* __restrict__ a, int64_t stride_a,
                   const float* __restrict__ b, int64_t stride_b, bool b_transposed, float alpha,
                   const float* __restrict__ bias, ActivationParams act, float* __restrict__ c, int64_t stride_c) {
  // k-major tiles: as[kk][row], bs[kk][col]; the pad keeps the transposing stores of k-contiguous
  // tiles to at most 2-way bank conflicts.
  __shared__ float as[kGemmTileK][kGemmTileM + kGemmSmemPad];
  __shared__ float bs[kGemmTileK][kGemmTileN + kGemmSmemPad];

  const int tid = int(threadIdx.x);
  const int64_t row0 = int64_t(blockIdx.y) * kGemmTileM;
  const int64_t col0 = int64_t(blockIdx.x) * kGemmTileN;

  for (int64_t z = blockIdx.z; z < batch; z += gridDim.z) {  // uniform across the block
    const float* a_z = a + z * stride_a;
    const float* b_z = b + z * stride_b;
    float* c_z = c + z * stride_c;

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
        as[t.kk][t.mn] = gemm_in_bounds(r, p, m, k) ? a_z[gemm_a_offset(r, p, k)] : 0.f;
      }
#pragma unroll
      for (int l = 0; l < kGemmLoadsPerThread; ++l) {
        const int e = gemm_load_index(tid, l);
        const GemmTileCoord t = b_transposed ? gemm_load_k_contiguous(e) : gemm_load_n_contiguous(e);
        const int64_t p = k0 + t.kk, cc = col0 + t.mn;
        bs[t.kk][t.mn] = gemm_in_bounds(p, cc, k, n) ? b_z[gemm_b_offset(p, cc, n, k, b_transposed)] : 0.f;
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
          const float v = alpha * acc[i][j] + (bias != nullptr ? bias[cc] : 0.f);
          c_z[gemm_c_offset(r, cc, n)] = apply_activation(act, v);
        }
      }
    }
  }
}

std::string shape_string(int batch, int m, int n, int k) {
  return "batch " + std::to_string(batch) + ", m " + std::to_string(m) + ", n " + std::to_string(n) + ", k " +
         std::to_string(k);
}

// Validates, takes the geometry from batched_matmul_launch and launches (nothing for zero-size work).
void launch_gemm(int batch, int m, int n, int k, const float* a, int64_t stride_a, const float* b, int64_t stride_b,
                 bool b_transposed, float alpha, const float* bias, ActivationParams act, float* c, int64_t stride_c,
                 cudaStream_t stream) {
  const LaunchGeometry g = batched_matmul_launch(batch, m, n, k);  // throws on negative / too-large shapes
  if (g.grid.count() == 0) return;
  if (c == nullptr) throw std::invalid_argument("gemm: null output pointer (" + shape_string(batch, m, n, k) + ")");
  if (k > 0 && (a == nullptr || b == nullptr))
    throw std::invalid_argument("gemm: null input pointer (" + shape_string(batch, m, n, k) + ")");
  const int64_t c_size = int64_t(m) * n;
  if (batch > 1 && (stride_c < 0 ? -stride_c : stride_c) < c_size)
    throw std::invalid_argument("batched_matmul: output stride " + std::to_string(stride_c) +
                                " makes outputs overlap (each is m * n = " + std::to_string(c_size) + " elements)");
  const dim3 grid(g.grid.x, g.grid.y, g.grid.z), block(g.block.x, g.block.y, g.block.z);
  gemm_tiled_f32<<<grid, block, 0, stream>>>(batch, m, n, k, a, stride_a, b, stride_b, b_transposed, alpha, bias,
                                             act, c, stride_c);
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void gemm_cuda(int m, int n, int k, const float* a, const float* b, bool b_transposed, float alpha,
               const float* bias, ActivationParams act, float* c, cudaStream_t stream) {
  launch_gemm(1, m, n, k, a, 0, b, 0, b_transposed, alpha, bias, act, c, 0, stream);
}

void batched_matmul_cuda(int batch, int m, int n, int k, const float* a, int64_t stride_a, const float* b,
                         int64_t stride_b, float alpha, float* c, int64_t stride_c, cudaStream_t stream) {
  launch_gemm(batch, m, n, k, a, stride_a, b, stride_b, false, alpha, nullptr, ActivationParams{}, c, stride_c,
              stream);
}

}  // namespace dstack::kernels
