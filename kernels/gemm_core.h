#pragma once
// Internal to the CPU references (not a public header): the cache-blocked GEMM core shared by
// gemm_ref, batched_matmul_ref and conv2d_ref. Plain C++; the inner loop is contiguous in both B
// and C so the compiler vectorizes it.
#include <algorithm>
#include <cstdint>

namespace dstack::kernels::detail {

// A KC x NC panel of B (128 KiB) stays in L2 while the rows of A pass over it; a strip of four C
// rows (4 x NC floats, 4 KiB) stays in L1 for the whole k loop of the panel.
inline constexpr int kGemmBlockK = 128;
inline constexpr int kGemmBlockN = 256;

// c_r[j] += a_r * b[j] for four rows r at once: each element of b is loaded once for four rows.
inline void axpy4(int n, float a0, float a1, float a2, float a3, const float* __restrict b, float* __restrict c0,
                  float* __restrict c1, float* __restrict c2, float* __restrict c3) {
  for (int j = 0; j < n; ++j) {
    float bj = b[j];
    c0[j] += a0 * bj;
    c1[j] += a1 * bj;
    c2[j] += a2 * bj;
    c3[j] += a3 * bj;
  }
}

inline void axpy1(int n, float a0, const float* __restrict b, float* __restrict c0) {
  for (int j = 0; j < n; ++j) c0[j] += a0 * b[j];
}

// C[m, n] += A[m, k] * B[k, n]; row-major, with leading dimensions (in elements) lda, ldb, ldc.
// Loop order i-k-j over blocks. Each C element still sums its k products in order 0..k-1, so the
// result does not depend on the block sizes.
inline void gemm_accumulate(int m, int n, int k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                            int64_t ldc) {
  for (int j0 = 0; j0 < n; j0 += kGemmBlockN) {
    int nb = std::min(kGemmBlockN, n - j0);
    for (int p0 = 0; p0 < k; p0 += kGemmBlockK) {
      int kb = std::min(kGemmBlockK, k - p0);
      int i = 0;
      for (; i + 4 <= m; i += 4) {
        const float* a0 = a + int64_t(i) * lda + p0;
        float* c0 = c + int64_t(i) * ldc + j0;
        for (int p = 0; p < kb; ++p) {
          const float* b_row = b + int64_t(p0 + p) * ldb + j0;
          axpy4(nb, a0[p], a0[lda + p], a0[2 * lda + p], a0[3 * lda + p], b_row, c0, c0 + ldc, c0 + 2 * ldc,
                c0 + 3 * ldc);
        }
      }
      for (; i < m; ++i) {
        const float* a_row = a + int64_t(i) * lda + p0;
        float* c_row = c + int64_t(i) * ldc + j0;
        for (int p = 0; p < kb; ++p) axpy1(nb, a_row[p], b + int64_t(p0 + p) * ldb + j0, c_row);
      }
    }
  }
}

}  // namespace dstack::kernels::detail
