#pragma once
// GEMM for fully connected layers and batched matmul for attention. Row-major throughout.
#include <cstdint>

#include "kernels/activation.h"

namespace dstack::kernels {

// C[m, n] = act(alpha * sum_k A[m, k] * B'[k, n] + bias[n]), where B' = B ([k, n]) or, when
// b_transposed, B is stored [n, k] (the layout of a Linear layer's weight). bias may be null.
void gemm_ref(int m, int n, int k, const float* a, const float* b, bool b_transposed, float alpha,
              const float* bias, ActivationParams act, float* c);

// `batch` independent products C_i = alpha * A_i B_i with A_i [m, k], B_i [k, n], C_i [m, n] at
// element strides stride_a, stride_b, stride_c between consecutive i (stride 0 broadcasts).
void batched_matmul_ref(int batch, int m, int n, int k, const float* a, int64_t stride_a, const float* b,
                        int64_t stride_b, float alpha, float* c, int64_t stride_c);

}  // namespace dstack::kernels
