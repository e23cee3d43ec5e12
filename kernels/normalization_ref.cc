// CPU reference softmax, layer norm and mean reduction.
#include <algorithm>
#include <cmath>

#include "kernels/normalization.h"

namespace dstack::kernels {

void softmax_ref(int64_t rows, int64_t cols, const float* x, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x_row = x + r * cols;
    float* y_row = y + r * cols;
    float max_val = -INFINITY;
    for (int64_t j = 0; j < cols; ++j) max_val = std::max(max_val, x_row[j]);
    float sum = 0.f;
    for (int64_t j = 0; j < cols; ++j) {
      y_row[j] = std::exp(x_row[j] - max_val);
      sum += y_row[j];
    }
    const float inv_sum = 1.f / sum;
    for (int64_t j = 0; j < cols; ++j) y_row[j] *= inv_sum;
  }
}

void layernorm_ref(int64_t rows, int64_t cols, const float* x, const float* gamma, const float* beta, float eps,
                   float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x_row = x + r * cols;
    float* y_row = y + r * cols;
    float sum = 0.f;
    for (int64_t j = 0; j < cols; ++j) sum += x_row[j];
    const float mean = sum / float(cols);
    // why: two passes (variance of the centered values), not E[x^2] - mean^2, which cancels badly.
    float sq_sum = 0.f;
    for (int64_t j = 0; j < cols; ++j) {
      const float d = x_row[j] - mean;
      sq_sum += d * d;
    }
    const float inv_std = 1.f / std::sqrt(sq_sum / float(cols) + eps);
    for (int64_t j = 0; j < cols; ++j) {
      const float g = gamma ? gamma[j] : 1.f;
      const float b = beta ? beta[j] : 0.f;
      y_row[j] = (x_row[j] - mean) * inv_std * g + b;
    }
  }
}

void reduce_mean_ref(int64_t outer, int64_t reduce, int64_t inner, const float* x, float* y) {
  for (int64_t o = 0; o < outer; ++o) {
    float* y_o = y + o * inner;
    std::fill(y_o, y_o + inner, 0.f);
    for (int64_t r = 0; r < reduce; ++r) {
      const float* x_or = x + (o * reduce + r) * inner;
      for (int64_t i = 0; i < inner; ++i) y_o[i] += x_or[i];
    }
    for (int64_t i = 0; i < inner; ++i) y_o[i] /= float(reduce);
  }
}

}  // namespace dstack::kernels
