#pragma once
// Softmax and layer norm over the last axis of a [rows, cols] view.
#include <cstdint>

namespace dstack::kernels {

// Numerically stable (max-subtracted) softmax of each row.
void softmax_ref(int64_t rows, int64_t cols, const float* x, float* y);
// y = (x - mean) / sqrt(var + eps) * gamma + beta per row; gamma/beta of length cols (null = 1/0).
void layernorm_ref(int64_t rows, int64_t cols, const float* x, const float* gamma, const float* beta, float eps,
                   float* y);
// Mean over the middle axis of an [outer, reduce, inner] view: y[o, i].
void reduce_mean_ref(int64_t outer, int64_t reduce, int64_t inner, const float* x, float* y);

}  // namespace dstack::kernels
