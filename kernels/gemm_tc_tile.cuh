#pragma once
// The warp-level tensor-core work both tensor-core kernels share (gemm_tc in gemm.cu and
// conv2d_implicit_gemm_tc in conv2d.cu): the block tiling of kernels/gemm.h (namespace gemm_tc),
// each warp owning a 32 x 32 quadrant as 2 x 2 wmma m16n16k16 fragments with fp32 accumulators.
// The kernels differ only in how they stage their A and B tiles and in their epilogues.
#include <mma.h>

#include "kernels/gemm.h"

namespace dstack::kernels::gemm_tc {

using Accumulators = nvcuda::wmma::fragment<nvcuda::wmma::accumulator, kFrag, kFrag, kFrag, float>[kFragsPerWarp]
                                                                                                   [kFragsPerWarp];

__device__ __forceinline__ void zero_accumulators(Accumulators& acc) {
#pragma unroll
  for (int i = 0; i < kFragsPerWarp; ++i)
#pragma unroll
    for (int j = 0; j < kFragsPerWarp; ++j) nvcuda::wmma::fill_fragment(acc[i][j], 0.f);
}

// acc += A_tile[warp_row.., 0 : kTileK] x B_tile[0 : kTileK, warp_col..] for one staged slice:
// a_tile is [kTileM][kLdA] (row = output row, k contiguous), b_tile is [kTileK][kLdB] (k rows).
template <typename T>
__device__ __forceinline__ void multiply_slice(Accumulators& acc, const T* a_tile, const T* b_tile, int warp_row,
                                               int warp_col) {
  namespace wmma = nvcuda::wmma;
#pragma unroll
  for (int kk = 0; kk < kTileK; kk += kFrag) {
    wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, T, wmma::row_major> a_frag[kFragsPerWarp];
    wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, wmma::row_major> b_frag[kFragsPerWarp];
#pragma unroll
    for (int i = 0; i < kFragsPerWarp; ++i)
      wmma::load_matrix_sync(a_frag[i], a_tile + (warp_row + kFrag * i) * kLdA + kk, kLdA);
#pragma unroll
    for (int j = 0; j < kFragsPerWarp; ++j)
      wmma::load_matrix_sync(b_frag[j], b_tile + kk * kLdB + warp_col + kFrag * j, kLdB);
#pragma unroll
    for (int i = 0; i < kFragsPerWarp; ++i)
#pragma unroll
      for (int j = 0; j < kFragsPerWarp; ++j) wmma::mma_sync(acc[i][j], a_frag[i], b_frag[j], acc[i][j]);
  }
}

// Fragments hold their elements in an unspecified thread layout: the epilogue reads them back from
// c_tile ([kTileM][kLdC] floats) after a barrier.
__device__ __forceinline__ void store_accumulators(float* c_tile, const Accumulators& acc, int warp_row, int warp_col) {
#pragma unroll
  for (int i = 0; i < kFragsPerWarp; ++i)
#pragma unroll
    for (int j = 0; j < kFragsPerWarp; ++j)
      nvcuda::wmma::store_matrix_sync(c_tile + (warp_row + kFrag * i) * kLdC + warp_col + kFrag * j, acc[i][j], kLdC,
                                      nvcuda::wmma::mem_row_major);
}

}  // namespace dstack::kernels::gemm_tc
