// Softmax, layer norm and mean reduction against double-precision naive loops.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/normalization.h"
#include "test/kernels/test_data.h"
#include "test/kernels/tolerance.h"

namespace dstack::kernels {
namespace {

using ktest::expect_close;
using ktest::random_vector;

std::vector<float> naive_softmax(int64_t rows, int64_t cols, const std::vector<float>& x) {
  std::vector<float> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double max_val = -INFINITY, sum = 0.0;
    for (int64_t j = 0; j < cols; ++j) max_val = std::max(max_val, double(x[size_t(r * cols + j)]));
    for (int64_t j = 0; j < cols; ++j) sum += std::exp(double(x[size_t(r * cols + j)]) - max_val);
    for (int64_t j = 0; j < cols; ++j)
      y[size_t(r * cols + j)] = float(std::exp(double(x[size_t(r * cols + j)]) - max_val) / sum);
  }
  return y;
}

TEST(SoftmaxRef, MatchesNaive) {
  for (int64_t cols : {1, 7, 128, 1000}) {
    const int64_t rows = 5;
    SCOPED_TRACE("cols=" + std::to_string(cols));
    const auto x = random_vector(rows * cols, uint32_t(cols), -8.f, 8.f);
    std::vector<float> y(x.size());
    softmax_ref(rows, cols, x.data(), y.data());
    expect_close(naive_softmax(rows, cols, x), y, ktest::kMathAtol, ktest::kMathRtol);
  }
}

TEST(SoftmaxRef, StableForLargeInputs) {
  const std::vector<float> x = {1000.f, 1001.f, 1002.f, -1000.f};
  std::vector<float> y(4);
  softmax_ref(1, 4, x.data(), y.data());
  expect_close(std::vector<float>{0.09003057f, 0.24472847f, 0.66524096f, 0.f}, y, ktest::kMathAtol, ktest::kMathRtol);
}

std::vector<float> naive_layernorm(int64_t rows, int64_t cols, const std::vector<float>& x, const float* gamma,
                                   const float* beta, float eps) {
  std::vector<float> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x.data() + r * cols;
    double mean = 0.0, var = 0.0;
    for (int64_t j = 0; j < cols; ++j) mean += row[j];
    mean /= double(cols);
    for (int64_t j = 0; j < cols; ++j) var += (row[j] - mean) * (row[j] - mean);
    var /= double(cols);
    for (int64_t j = 0; j < cols; ++j) {
      const double normalized = (row[j] - mean) / std::sqrt(var + eps);
      y[size_t(r * cols + j)] = float(normalized * (gamma ? gamma[j] : 1.0) + (beta ? beta[j] : 0.0));
    }
  }
  return y;
}

TEST(LayerNormRef, MatchesNaiveWithAndWithoutAffine) {
  const int64_t rows = 6, cols = 768;  // BERT-base hidden size
  const auto x = random_vector(rows * cols, 1, -3.f, 5.f);
  const auto gamma = random_vector(cols, 2, 0.5f, 1.5f);
  const auto beta = random_vector(cols, 3);
  std::vector<float> y(x.size());
  layernorm_ref(rows, cols, x.data(), gamma.data(), beta.data(), 1e-12f, y.data());
  expect_close(naive_layernorm(rows, cols, x, gamma.data(), beta.data(), 1e-12f), y, 1e-5f, 1e-4f);
  layernorm_ref(rows, cols, x.data(), nullptr, nullptr, 1e-5f, y.data());
  expect_close(naive_layernorm(rows, cols, x, nullptr, nullptr, 1e-5f), y, 1e-5f, 1e-4f);
}

TEST(LayerNormRef, ConstantRowGivesBeta) {
  const std::vector<float> x(16, 3.25f);
  const auto beta = random_vector(16, 4);
  std::vector<float> y(16);
  layernorm_ref(1, 16, x.data(), nullptr, beta.data(), 1e-5f, y.data());
  expect_close(beta, y, ktest::kExact, ktest::kExact);
}

TEST(ReduceMeanRef, MatchesNaive) {
  const int64_t outer = 3, reduce = 17, inner = 5;
  const auto x = random_vector(outer * reduce * inner, 7);
  std::vector<float> ref(size_t(outer * inner)), y(ref.size(), -7.f);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      double sum = 0.0;
      for (int64_t r = 0; r < reduce; ++r) sum += x[size_t((o * reduce + r) * inner + i)];
      ref[size_t(o * inner + i)] = float(sum / double(reduce));
    }
  reduce_mean_ref(outer, reduce, inner, x.data(), y.data());
  expect_close(ref, y, ktest::kMathAtol, ktest::kMathRtol);
}

}  // namespace
}  // namespace dstack::kernels
