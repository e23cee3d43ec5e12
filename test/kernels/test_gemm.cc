// gemm_ref and batched_matmul_ref against a triple-loop matmul accumulated in double.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "test/kernels/test_data.h"
#include "test/kernels/tolerance.h"

namespace dstack::kernels {
namespace {

using ktest::expect_close;
using ktest::random_vector;

// c[i, j] = act(alpha * sum_p a[i, p] * b'[p, j] + bias[j]); b' = b, or b stored [n, k] when transposed.
std::vector<float> naive_gemm(int m, int n, int k, const float* a, const float* b, bool b_transposed, float alpha,
                              const float* bias, ActivationParams act) {
  std::vector<float> c(size_t(m) * n);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double acc = 0.0;
      for (int p = 0; p < k; ++p) {
        const float bv = b_transposed ? b[size_t(j) * k + p] : b[size_t(p) * n + j];
        acc += double(a[size_t(i) * k + p]) * double(bv);
      }
      c[size_t(i) * n + j] = apply_activation(act, alpha * float(acc) + (bias ? bias[j] : 0.f));
    }
  return c;
}

TEST(GemmRef, MatchesTripleLoopOverOddSizes) {
  const int sizes[] = {1, 3, 17, 65, 130};
  uint32_t seed = 10;
  for (int m : sizes)
    for (int n : sizes)
      for (int k : sizes)
        for (bool transposed : {false, true}) {
          SCOPED_TRACE("m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
                       (transposed ? " B transposed" : ""));
          const auto a = random_vector(int64_t(m) * k, seed++);
          const auto b = random_vector(int64_t(k) * n, seed++);
          std::vector<float> c(size_t(m) * n, -7.f);
          gemm_ref(m, n, k, a.data(), b.data(), transposed, 1.f, nullptr, {}, c.data());
          expect_close(naive_gemm(m, n, k, a.data(), b.data(), transposed, 1.f, nullptr, {}), c, ktest::kGemmAtol,
                       ktest::kGemmRtol);
        }
}

TEST(GemmRef, AlphaBiasAndActivationEpilogue) {
  struct Case {
    int m, n, k;
    bool transposed;
    float alpha;
    ActivationParams act;
  };
  const Case cases[] = {
      {5, 7, 9, false, 0.5f, {Activation::Relu}},
      {17, 65, 3, true, -2.f, {Activation::Gelu}},
      {70, 300, 260, false, 0.125f, {Activation::Tanh}},  // crosses the N and K blocks of the core
      {1, 1000, 130, true, 1.f, {Activation::Sigmoid}},   // batch-1 fully connected layer
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE("m=" + std::to_string(tc.m) + " n=" + std::to_string(tc.n) + " k=" + std::to_string(tc.k));
    const auto a = random_vector(int64_t(tc.m) * tc.k, 1);
    const auto b = random_vector(int64_t(tc.k) * tc.n, 2);
    const auto bias = random_vector(tc.n, 3);
    std::vector<float> c(size_t(tc.m) * tc.n);
    gemm_ref(tc.m, tc.n, tc.k, a.data(), b.data(), tc.transposed, tc.alpha, bias.data(), tc.act, c.data());
    expect_close(naive_gemm(tc.m, tc.n, tc.k, a.data(), b.data(), tc.transposed, tc.alpha, bias.data(), tc.act), c,
                 ktest::kGemmAtol, ktest::kGemmRtol);
  }
}

TEST(GemmRef, HandComputed) {
  const float a[] = {1, 2, 3, 4, 5, 6};       // [2, 3]
  const float b[] = {7, 8, 9, 10, 11, 12};    // [3, 2]
  const float bt[] = {7, 9, 11, 8, 10, 12};   // the same B stored [2, 3]
  const float bias[] = {0.5f, -200.f};
  float c[4];
  gemm_ref(2, 2, 3, a, b, false, 1.f, bias, {Activation::Relu}, c);
  EXPECT_EQ(std::vector<float>(c, c + 4), (std::vector<float>{58.5f, 0.f, 139.5f, 0.f}));
  gemm_ref(2, 2, 3, a, bt, true, 2.f, nullptr, {}, c);
  EXPECT_EQ(std::vector<float>(c, c + 4), (std::vector<float>{116.f, 128.f, 278.f, 308.f}));
}

TEST(BatchedMatmulRef, MatchesPerBatchTripleLoop) {
  struct Case {
    int batch, m, n, k;
    int64_t pad_a, pad_b, pad_c;  // extra elements between consecutive matrices
    bool broadcast_b;             // stride_b = 0: every product uses the same B
    float alpha;
  };
  const Case cases[] = {
      {3, 5, 7, 9, 0, 0, 0, false, 1.f},
      {4, 17, 3, 65, 5, 2, 11, false, 0.125f},  // strided, attention-style scale
      {2, 65, 130, 17, 0, 0, 3, true, -1.f},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE("batch=" + std::to_string(tc.batch) + " m=" + std::to_string(tc.m));
    const int64_t stride_a = int64_t(tc.m) * tc.k + tc.pad_a;
    const int64_t stride_b = tc.broadcast_b ? 0 : int64_t(tc.k) * tc.n + tc.pad_b;
    const int64_t stride_c = int64_t(tc.m) * tc.n + tc.pad_c;
    const auto a = random_vector(stride_a * tc.batch, 1);
    const auto b = random_vector(tc.broadcast_b ? int64_t(tc.k) * tc.n : stride_b * tc.batch, 2);
    std::vector<float> c(size_t(stride_c * tc.batch), -7.f);
    batched_matmul_ref(tc.batch, tc.m, tc.n, tc.k, a.data(), stride_a, b.data(), stride_b, tc.alpha, c.data(),
                       stride_c);
    for (int i = 0; i < tc.batch; ++i) {
      SCOPED_TRACE("product " + std::to_string(i));
      const auto ref = naive_gemm(tc.m, tc.n, tc.k, a.data() + i * stride_a, b.data() + i * stride_b, false, tc.alpha,
                                  nullptr, {});
      const auto first = c.begin() + i * stride_c;
      expect_close(ref, std::vector<float>(first, first + int64_t(tc.m) * tc.n), ktest::kGemmAtol, ktest::kGemmRtol);
      // The gap after each product is left alone.
      for (int64_t e = int64_t(tc.m) * tc.n; e < stride_c; ++e) EXPECT_EQ(c[size_t(i * stride_c + e)], -7.f);
    }
  }
}

}  // namespace
}  // namespace dstack::kernels
