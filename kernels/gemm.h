#pragma once
// GEMM for fully connected layers and batched matmul for attention. Row-major throughout.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/activation.h"
#include "kernels/host_device.h"
#include "kernels/launch.h"
#include "kernels/precision.h"

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
// fp32 kernel "gemm_tiled<float>" (SIMT): each block computes a kGemmTileM x kGemmTileN tile of C (one product of
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

// ---- Tensor-core GEMM for fp16 / bf16 storage ("gemm_tc<__half>", "gemm_tc<__nv_bfloat16>") ----
//
// nvcuda::wmma m16n16k16 fragments with an fp32 accumulator. Each block of 4 warps computes a
// 64 x 64 tile of C; warp w owns the 32 x 32 quadrant (gemm_tc_warp_row(w), gemm_tc_warp_col(w)),
// i.e. 2 x 2 fragments. Per 32-wide k step the block stages A [64][32] and B' [32][64] in shared
// memory, row-major with 8 elements of padding per row (load_matrix_sync wants the leading dimension
// a multiple of 8 16-bit elements and every fragment 32-byte aligned, which 40 and 72 give), zero
// past M, N and K. After the k loop the accumulators go through shared memory ([64][68] floats) so
// that the fused epilogue (alpha, bias, activation, one rounding on store) knows each element's
// coordinates: thread t then handles tile elements gemm_tc_epilogue(t, l), l < kEpiloguePerThread.
namespace gemm_tc {
inline constexpr int kTileM = 64;
inline constexpr int kTileN = 64;
inline constexpr int kTileK = 32;
inline constexpr int kFrag = 16;                      // wmma m16n16k16
inline constexpr int kWarps = 4;                      // 2 x 2 warps, 32 x 32 outputs each
inline constexpr int kThreads = 32 * kWarps;
inline constexpr int kWarpTile = 32;
inline constexpr int kFragsPerWarp = kWarpTile / kFrag;  // 2 x 2 fragments per warp
inline constexpr int kLdA = kTileK + 8;               // smem row lengths, in elements
inline constexpr int kLdB = kTileN + 8;
inline constexpr int kLdC = kTileN + 4;               // floats; a multiple of 4 as store_matrix_sync wants
inline constexpr int kLoadsA = kTileM * kTileK / kThreads;  // 16 A elements per thread per k step
inline constexpr int kLoadsB = kTileK * kTileN / kThreads;  // 16 B' elements
inline constexpr int kEpiloguePerThread = kTileM * kTileN / kThreads;  // 32 outputs per thread
// Static shared memory: A and B' tiles of 16-bit elements plus the fp32 C tile.
inline constexpr std::size_t kSharedBytes =
    2 * std::size_t(kTileM * kLdA + kTileK * kLdB) + sizeof(float) * std::size_t(kTileM * kLdC);
static_assert(kLdA % 8 == 0 && kLdB % 8 == 0 && kLdC % 4 == 0, "wmma leading dimensions");
static_assert((kFrag * kLdA * 2) % 32 == 0 && (kFrag * kLdB * 2) % 32 == 0 && (kFrag * kLdC * 4) % 32 == 0,
              "every fragment starts 32-byte aligned");
static_assert(kTileM * kTileK % kThreads == 0 && kTileK * kTileN % kThreads == 0, "even tile loads");
static_assert((kTileM / kWarpTile) * (kTileN / kWarpTile) == kWarps, "one 32 x 32 quadrant per warp");
}  // namespace gemm_tc

// Load l (0 <= l < kLoadsA) of thread tid: A tile element (row mn, k offset kk); consecutive threads
// read consecutive k (A is [m, k], k-contiguous).
DSTACK_HD GemmTileCoord gemm_tc_load_a(int tid, int l) {
  const int e = tid + l * gemm_tc::kThreads;
  return {e / gemm_tc::kTileK, e % gemm_tc::kTileK};
}
// Load l (0 <= l < kLoadsB) of thread tid: B' tile element (column mn, k offset kk), consecutive
// threads along the contiguous dimension of B: k when b_transposed ([n, k]), else n ([k, n]).
DSTACK_HD GemmTileCoord gemm_tc_load_b(int tid, int l, bool b_transposed) {
  const int e = tid + l * gemm_tc::kThreads;
  return b_transposed ? GemmTileCoord{e / gemm_tc::kTileK, e % gemm_tc::kTileK}
                      : GemmTileCoord{e % gemm_tc::kTileN, e / gemm_tc::kTileN};
}
// Top-left corner (within the block tile) of warp w's 32 x 32 quadrant; its fragment (i, j) starts
// at (row + 16 i, col + 16 j).
DSTACK_HD int gemm_tc_warp_row(int warp) { return (warp / (gemm_tc::kTileN / gemm_tc::kWarpTile)) * gemm_tc::kWarpTile; }
DSTACK_HD int gemm_tc_warp_col(int warp) { return (warp % (gemm_tc::kTileN / gemm_tc::kWarpTile)) * gemm_tc::kWarpTile; }
// Epilogue element l (0 <= l < kEpiloguePerThread) of thread tid: tile (row mn, column kk); a warp
// covers 32 consecutive columns of one row, so the stores to C are coalesced.
DSTACK_HD GemmTileCoord gemm_tc_epilogue(int tid, int l) {
  const int e = tid + l * gemm_tc::kThreads;
  return {e / gemm_tc::kTileN, e % gemm_tc::kTileN};
}

// Geometry of the kernel batched_matmul_cuda / gemm_cuda launch for a batch of [m, k] x [k, n]
// products at precision p: fp32 takes "gemm_tiled<float>" (grid (ceil(n / 64), ceil(m / 64),
// min(batch, 65535)), 256 threads); fp16 / bf16 take the tensor-core "gemm_tc<T>" (same grid, 128
// threads). Zero-size work gives an empty grid (nothing is launched). Throws std::invalid_argument
// for negative sizes or more than 65535 * 64 rows.
inline LaunchGeometry batched_matmul_launch(int batch, int m, int n, int k, Precision p = Precision::F32) {
  if (batch < 0 || m < 0 || n < 0 || k < 0)
    throw std::invalid_argument("gemm: negative size (batch " + std::to_string(batch) + ", m " + std::to_string(m) +
                                ", n " + std::to_string(n) + ", k " + std::to_string(k) + ")");
  static_assert(gemm_tc::kTileM == kGemmTileM && gemm_tc::kTileN == kGemmTileN, "both kernels tile C alike");
  const unsigned grid_y = unsigned((int64_t(m) + kGemmTileM - 1) / kGemmTileM);
  if (grid_y > kGemmMaxGridY)
    throw std::invalid_argument("gemm: m = " + std::to_string(m) + " needs more than " +
                                std::to_string(kGemmMaxGridY) + " row tiles of " + std::to_string(kGemmTileM));
  LaunchGeometry g;
  g.grid.x = unsigned((int64_t(n) + kGemmTileN - 1) / kGemmTileN);
  g.grid.y = grid_y;
  g.grid.z = unsigned(batch) < kGemmMaxGridZ ? unsigned(batch) : kGemmMaxGridZ;
  if (p == Precision::F32) {
    g.kernel = "gemm_tiled<float>";
    g.block.x = kGemmThreads;
    g.shared_bytes = kGemmSharedBytes;
  } else {
    g.kernel = std::string("gemm_tc<") + precision_device_type(p) + ">";
    g.block.x = gemm_tc::kThreads;
    g.shared_bytes = gemm_tc::kSharedBytes;
  }
  return g;
}

// gemm_ref's shape on the GPU: a batch of one.
inline LaunchGeometry gemm_launch(int m, int n, int k, Precision p = Precision::F32) {
  return batched_matmul_launch(1, m, n, k, p);
}

}  // namespace dstack::kernels
