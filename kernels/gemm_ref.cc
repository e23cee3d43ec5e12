// CPU reference GEMM and batched matmul, both on the blocked core of gemm_core.h.
#include <algorithm>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/gemm_core.h"

namespace dstack::kernels {

namespace {

// bt[p, j] = b[j, p]: turns a [n, k] weight into the [k, n] operand the core reads row by row.
std::vector<float> transpose_to_kn(int n, int k, const float* b) {
  std::vector<float> bt(size_t(k) * n);
  for (int j = 0; j < n; ++j)
    for (int p = 0; p < k; ++p) bt[size_t(p) * n + j] = b[size_t(j) * k + p];
  return bt;
}

}  // namespace

void gemm_ref(int m, int n, int k, const float* a, const float* b, bool b_transposed, float alpha,
              const float* bias, ActivationParams act, float* c) {
  std::vector<float> bt;
  if (b_transposed) {
    bt = transpose_to_kn(n, k, b);
    b = bt.data();
  }
  std::fill(c, c + int64_t(m) * n, 0.f);
  detail::gemm_accumulate(m, n, k, a, k, b, n, c, n);
  for (int i = 0; i < m; ++i) {
    float* c_row = c + int64_t(i) * n;
    for (int j = 0; j < n; ++j) c_row[j] = apply_activation(act, alpha * c_row[j] + (bias ? bias[j] : 0.f));
  }
}

void batched_matmul_ref(int batch, int m, int n, int k, const float* a, int64_t stride_a, const float* b,
                        int64_t stride_b, float alpha, float* c, int64_t stride_c) {
  const int64_t c_size = int64_t(m) * n;
  for (int i = 0; i < batch; ++i) {
    float* c_i = c + i * stride_c;
    std::fill(c_i, c_i + c_size, 0.f);
    detail::gemm_accumulate(m, n, k, a + i * stride_a, k, b + i * stride_b, n, c_i, n);
    if (alpha != 1.f)
      for (int64_t e = 0; e < c_size; ++e) c_i[e] *= alpha;
  }
}

}  // namespace dstack::kernels
