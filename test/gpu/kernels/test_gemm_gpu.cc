// gemm_cuda and batched_matmul_cuda against the CPU references gemm_ref / batched_matmul_ref.
//
// Tolerance: |got - ref| <= kAtol + kRtol * |ref|. Both sides accumulate the k products in order in
// float (the GPU with fused multiply-adds), so they differ by rounding only: for k <= ~320 and
// inputs in [-1, 1] that is a few 1e-6; 1e-4 leaves a wide margin and still catches any indexing error.
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/gemm_cuda.h"
#include "runtime/backend/cuda/resources.h"
#include "test/gpu/device_data.h"
#include "test/gpu/gpu_test_env.h"
#include "test/kernels/test_data.h"
#include "test/kernels/tolerance.h"

namespace dstack::kernels {
namespace {

using dstack::test::upload;
using dstack::test::download;

using cuda::DeviceBuffer;
using ktest::random_vector;

constexpr float kAtol = 1e-4f;
constexpr float kRtol = 1e-4f;

std::string shape(int m, int n, int k, bool bt) {
  return "m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) + (bt ? " B^T" : "");
}

// Runs gemm_cuda and gemm_ref on the same seeded inputs and compares.
void check_gemm(int m, int n, int k, bool bt, float alpha, bool with_bias, ActivationParams act, uint32_t seed) {
  SCOPED_TRACE(shape(m, n, k, bt) + " alpha=" + std::to_string(alpha) + (with_bias ? " bias" : "") + " act=" +
               std::string(activation_name(act.kind)));
  const auto a = random_vector(int64_t(m) * k, seed);
  const auto b = random_vector(int64_t(k) * n, seed + 1);
  const auto bias = random_vector(n, seed + 2);
  std::vector<float> ref(size_t(m) * n);
  gemm_ref(m, n, k, a.data(), b.data(), bt, alpha, with_bias ? bias.data() : nullptr, act, ref.data());

  DeviceBuffer da = upload(a), db = upload(b), dbias = upload(bias);
  DeviceBuffer dc = upload(std::vector<float>(ref.size(), -123.f));  // poison: every output must be written
  gemm_cuda(m, n, k, da.as<float>(), db.as<float>(), bt, alpha, with_bias ? dbias.as<float>() : nullptr, act,
            dc.as<float>(), nullptr);
  DSTACK_CUDA_CHECK(cudaGetLastError());
  DSTACK_CUDA_CHECK(cudaDeviceSynchronize());
  ktest::expect_close(ref, download(dc, ref.size()), kAtol, kRtol);
}

TEST(GemmCuda, MatchesRefOverOddShapesBothLayouts) {
  DSTACK_REQUIRE_GPU();
  const int sizes[] = {1, 17, 64, 65, 130};
  uint32_t seed = 100;
  for (int m : sizes)
    for (int n : sizes)
      for (int k : sizes)
        for (bool bt : {false, true}) check_gemm(m, n, k, bt, 1.f, false, {}, seed += 3);
}

TEST(GemmCuda, MatchesRefOnLargerOddShapes) {
  DSTACK_REQUIRE_GPU();
  check_gemm(300, 257, 311, false, 1.f, true, {}, 7);
  check_gemm(300, 257, 311, true, 1.f, true, {}, 8);
  check_gemm(1, 333, 200, true, 1.f, true, {}, 9);   // a single row (batch-1 Linear layer)
  check_gemm(333, 1, 200, false, 1.f, false, {}, 10);
  check_gemm(129, 193, 7, true, 1.f, false, {}, 11);  // k shorter than one k tile
}

TEST(GemmCuda, AlphaBiasAndEveryActivation) {
  DSTACK_REQUIRE_GPU();
  const ActivationParams acts[] = {{Activation::None},      {Activation::Relu},           {Activation::Relu6},
                                   {Activation::Clip, -0.3f, 0.4f}, {Activation::Gelu}, {Activation::Sigmoid},
                                   {Activation::Silu},      {Activation::Tanh}};
  uint32_t seed = 500;
  for (const ActivationParams& act : acts)
    for (bool bt : {false, true})
      for (bool with_bias : {false, true}) {
        check_gemm(67, 45, 33, bt, 0.5f, with_bias, act, seed += 3);
        check_gemm(3, 70, 90, bt, -2.f, with_bias, act, seed += 3);
      }
}

TEST(GemmCuda, KZeroWritesActivatedBias) {
  DSTACK_REQUIRE_GPU();
  check_gemm(5, 70, 0, false, 1.f, true, {Activation::Relu}, 900);
  check_gemm(5, 70, 0, true, 1.f, false, {}, 901);
}

TEST(GemmCuda, ZeroSizeLaunchesNothingAndBadShapesThrow) {
  DSTACK_REQUIRE_GPU();
  EXPECT_NO_THROW(gemm_cuda(0, 5, 5, nullptr, nullptr, false, 1.f, nullptr, {}, nullptr, nullptr));
  EXPECT_NO_THROW(gemm_cuda(5, 0, 5, nullptr, nullptr, true, 1.f, nullptr, {}, nullptr, nullptr));
  EXPECT_NO_THROW(batched_matmul_cuda(0, 5, 5, 5, nullptr, 25, nullptr, 25, 1.f, nullptr, 25, nullptr));
  EXPECT_THROW(gemm_cuda(-1, 5, 5, nullptr, nullptr, false, 1.f, nullptr, {}, nullptr, nullptr),
               std::invalid_argument);
  DeviceBuffer buf(1000 * sizeof(float));
  float* p = buf.as<float>();
  // Outputs 5 x 5 apart by 10 elements would overlap.
  EXPECT_THROW(batched_matmul_cuda(2, 5, 5, 5, p, 0, p, 0, 1.f, p, 10, nullptr), std::invalid_argument);
  EXPECT_THROW(batched_matmul_cuda(2, 5, 5, 5, p, 0, p, 0, 1.f, p, 0, nullptr), std::invalid_argument);
  EXPECT_THROW(gemm_cuda(5, 5, 5, p, p, false, 1.f, nullptr, {}, nullptr, nullptr), std::invalid_argument);
  DSTACK_CUDA_CHECK(cudaDeviceSynchronize());
}

// batched_matmul_cuda vs batched_matmul_ref; outputs are laid out stride_c apart and the gaps
// between them must keep their poison.
void check_batched(int batch, int m, int n, int k, int64_t stride_a, int64_t stride_b, int64_t stride_c, float alpha,
                   uint32_t seed) {
  SCOPED_TRACE("batch=" + std::to_string(batch) + " " + shape(m, n, k, false) + " strides " +
               std::to_string(stride_a) + "/" + std::to_string(stride_b) + "/" + std::to_string(stride_c));
  const auto a = random_vector(stride_a * (batch - 1) + int64_t(m) * k, seed);
  const auto b = random_vector(stride_b * (batch - 1) + int64_t(k) * n, seed + 1);
  const size_t c_count = size_t(stride_c * (batch - 1) + int64_t(m) * n);
  std::vector<float> ref(c_count, -123.f);
  batched_matmul_ref(batch, m, n, k, a.data(), stride_a, b.data(), stride_b, alpha, ref.data(), stride_c);

  DeviceBuffer da = upload(a), db = upload(b), dc = upload(std::vector<float>(c_count, -123.f));
  batched_matmul_cuda(batch, m, n, k, da.as<float>(), stride_a, db.as<float>(), stride_b, alpha, dc.as<float>(),
                      stride_c, nullptr);
  DSTACK_CUDA_CHECK(cudaGetLastError());
  DSTACK_CUDA_CHECK(cudaDeviceSynchronize());
  ktest::expect_close(ref, download(dc, c_count), kAtol, kRtol);
}

TEST(BatchedMatmulCuda, MatchesRefWithStridesAndBroadcast) {
  DSTACK_REQUIRE_GPU();
  const int64_t mk = 37 * 29, kn = 29 * 70, mn = 37 * 70;
  check_batched(3, 37, 70, 29, mk, kn, mn, 1.f, 1);            // packed
  check_batched(3, 37, 70, 29, 0, kn, mn, 0.5f, 2);            // A broadcast
  check_batched(3, 37, 70, 29, mk, 0, mn, -1.f, 3);            // B broadcast
  check_batched(4, 37, 70, 29, mk + 5, kn + 3, mn + 11, 0.125f, 4);  // gaps between matrices
  check_batched(1, 1, 1, 1, 0, 0, 0, 1.f, 5);
  check_batched(5, 1, 300, 64, 64, 64 * 300, 300, 1.f, 6);     // attention-like: one query row
  check_batched(2, 130, 65, 130, 130 * 130, 130 * 65, 130 * 65, 1.f, 7);
}

TEST(BatchedMatmulCuda, BatchBeyondGridZLimitGridStrides) {
  DSTACK_REQUIRE_GPU();
  check_batched(65537, 1, 2, 3, 3, 6, 2, 1.f, 8);
}

}  // namespace
}  // namespace dstack::kernels
