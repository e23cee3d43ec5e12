#pragma once
// GEMM for fully connected layers and batched matmul for attention. Row-major throughout.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/activation.h"
#include "kernels/host_device.h"
#include "kernels/launch.h"

namespace dstack::kernels {

// C[m, n] = act(alpha * sum_k A[m, k] * B'[k, n] + bias[n]), where B' = B ([k, n]) or, when
// b_transposed, B is stored [n, k] (the layout of a Linear layer's weight). bias may be null.
void gemm_ref(int m, int n, int k, const float* a, const float* b, bool b_transposed, float alpha,
              const float* bias, ActivationParams act, float* c);

// `batch` independent products C_i = alpha * A_i B_i with A_i [m, k], B_i [k, n], C_i [m, n] at
// element strides stride_a, stride_b, stride_c between consecutive i (stride 0 broadcasts).
void batched_matmul_ref(int batch, int m, int n, int k, const float* a, int64_t stride_a, const float* b,
                        int64_t stride_b, float alpha, float* c, int64_t stride_c);

// ---- CUDA tiled SGEMM (kernels/gemm.cu): geometry and index maps, computable on the CPU ----
//
// Kernel "gemm_tiled_f32": each block computes a kGemmTileM x kGemmTileN tile of C (one product of
// the batch, blockIdx.z, grid-striding over the batch past 65535), walking k in steps of
// kGemmTileK. Per step the block stages an A tile [TileM x TileK] and a B' tile [TileK x TileN] in
// shared memory (both stored k-major, rows padded by one float), each thread loading
// kGemmLoadsPerThread elements of each. Thread t owns the 4 x 4 outputs (row0 + 16 i, col0 + 16 j).
inline constexpr int kGemmTileM = 64;
inline constexpr int kGemmTileN = 64;
inline constexpr int kGemmTileK = 16;
inline constexpr int kGemmThreads = 256;
inline constexpr int kGemmMicro = 4;                                    // 4 x 4 outputs per thread
inline constexpr int kGemmThreadsPerDim = kGemmTileM / kGemmMicro;      // 16 x 16 threads
inline constexpr int kGemmSmemPad = 1;                                  // floats of padding per smem row
inline constexpr int kGemmLoadsPerThread = kGemmTileM * kGemmTileK / kGemmThreads;  // 4
inline constexpr unsigned kGemmMaxGridZ = 65535;                        // batch grid-strides past this
inline constexpr unsigned kGemmMaxGridY = 65535;                        // hardware limit on grid.y
static_assert(kGemmTileM == kGemmTileN, "square tiles assumed by the thread map");
static_assert(kGemmThreadsPerDim * kGemmThreadsPerDim == kGemmThreads, "one thread per 4x4 micro-tile");
static_assert(kGemmTileM * kGemmTileK % kGemmThreads == 0, "A/B tiles split evenly over threads");
// Static shared memory of the kernel: A and B tiles, [TileK][Tile + pad] floats each.
inline constexpr std::size_t kGemmSharedBytes =
    sizeof(float) * std::size_t(kGemmTileK) * std::size_t(kGemmTileM + kGemmSmemPad + kGemmTileN + kGemmSmemPad);

// A position inside a tile: mn = row of A (or column of B'), kk = offset along k.
struct GemmTileCoord {
  int mn;
  int kk;
};

// Which element of a k-contiguous tile ([Tile rows][TileK], as A [m, k] and B stored [n, k] are)
// the load with flat index e (0 .. Tile*TileK - 1) fetches: consecutive e run along k (coalesced).
DSTACK_HD GemmTileCoord gemm_load_k_contiguous(int e) { return {e / kGemmTileK, e % kGemmTileK}; }
// Same for an n-contiguous tile ([TileK][TileN], as B [k, n] is): consecutive e run along n.
DSTACK_HD GemmTileCoord gemm_load_n_contiguous(int e) { return {e % kGemmTileN, e / kGemmTileN}; }
// Flat load index of the l-th load (0 .. kGemmLoadsPerThread-1) of thread tid.
DSTACK_HD int gemm_load_index(int tid, int l) { return tid + l * kGemmThreads; }
// Row (within the C tile) of micro-tile row i of thread tid, and column of micro-tile column j.
DSTACK_HD int gemm_thread_row(int tid, int i) { return tid / kGemmThreadsPerDim + kGemmThreadsPerDim * i; }
DSTACK_HD int gemm_thread_col(int tid, int j) { return tid % kGemmThreadsPerDim + kGemmThreadsPerDim * j; }
// Element offsets inside one product: A[r, p] (A is [m, k]); B'[p, c] with B [k, n] or, when
// b_transposed, [n, k]; C[r, c].
DSTACK_HD int64_t gemm_a_offset(int64_t r, int64_t p, int k) { return r * k + p; }
DSTACK_HD int64_t gemm_b_offset(int64_t p, int64_t c, int n, int k, bool b_transposed) {
  return b_transposed ? c * k + p : p * n + c;
}
DSTACK_HD int64_t gemm_c_offset(int64_t r, int64_t c, int n) { return r * n + c; }
DSTACK_HD bool gemm_in_bounds(int64_t r, int64_t c, int64_t rows, int64_t cols) {
  return r >= 0 && r < rows && c >= 0 && c < cols;
}

// Geometry of "gemm_tiled_f32" for a batch of [m, k] x [k, n] products: grid (ceil(n / 64),
// ceil(m / 64), min(batch, 65535)), 256 threads. Zero-size work gives an empty grid (nothing is
// launched). Throws std::invalid_argument for negative sizes or more than 65535 * 64 rows.
inline LaunchGeometry batched_matmul_launch(int batch, int m, int n, int k) {
  if (batch < 0 || m < 0 || n < 0 || k < 0)
    throw std::invalid_argument("gemm: negative size (batch " + std::to_string(batch) + ", m " + std::to_string(m) +
                                ", n " + std::to_string(n) + ", k " + std::to_string(k) + ")");
  const unsigned grid_y = unsigned((int64_t(m) + kGemmTileM - 1) / kGemmTileM);
  if (grid_y > kGemmMaxGridY)
    throw std::invalid_argument("gemm: m = " + std::to_string(m) + " needs more than " +
                                std::to_string(kGemmMaxGridY) + " row tiles of " + std::to_string(kGemmTileM));
  LaunchGeometry g;
  g.kernel = "gemm_tiled_f32";
  g.grid.x = unsigned((int64_t(n) + kGemmTileN - 1) / kGemmTileN);
  g.grid.y = grid_y;
  g.grid.z = unsigned(batch) < kGemmMaxGridZ ? unsigned(batch) : kGemmMaxGridZ;
  g.block.x = kGemmThreads;
  g.shared_bytes = kGemmSharedBytes;
  return g;
}

// gemm_ref's shape on the GPU: a batch of one.
inline LaunchGeometry gemm_launch(int m, int n, int k) { return batched_matmul_launch(1, m, n, k); }

}  // namespace dstack::kernels
