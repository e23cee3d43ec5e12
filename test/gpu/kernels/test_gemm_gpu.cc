// gemm_cuda and batched_matmul_cuda against the CPU references gemm_ref / batched_matmul_ref, at
// every storage precision (typed tests: fp32 runs the SIMT kernel, fp16 / bf16 the tensor-core one).
// Inputs are generated in fp32 and rounded to the storage type; the reference runs on the rounded
// values, the GPU result is widened back to fp32.
//
// Tolerance: |got - ref| <= atol + rtol * |ref|. fp32: both sides accumulate the k products in order
// in float (the GPU with fused multiply-adds), so they differ by rounding only: for k <= ~320 and
// inputs in [-1, 1] that is a few 1e-6; 1e-4 leaves a wide margin and still catches any indexing
// error. fp16 / bf16: ktest::reduction_tolerance (test/kernels/tolerance.h), which states why.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/convert_cuda.h"
#include "kernels/gemm_cuda.h"
#include "runtime/backend/cuda/resources.h"
#include "test/gpu/device_data.h"
#include "test/gpu/gpu_test_env.h"
#include "test/kernels/test_data.h"
#include "test/kernels/tolerance.h"

namespace dstack::kernels {
namespace {

using dstack::test::download_as_float;
using dstack::test::rounded;
using dstack::test::upload_as;

using cuda::DeviceBuffer;
using ktest::random_vector;

constexpr ktest::Tolerance kFp32{1e-4f, 1e-4f};

template <typename T>
ktest::Tolerance tolerance(int64_t k) {
  return ktest::reduction_tolerance(precision_of<T>(), kFp32, k, 1.f, 1.f);  // inputs in [-1, 1]
}

std::string shape(int m, int n, int k, bool bt) {
  return "m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) + (bt ? " B^T" : "");
}

// Runs gemm_cuda<T> and gemm_ref on the same seeded (rounded) inputs and compares.
template <typename T>
void check_gemm(int m, int n, int k, bool bt, float alpha, bool with_bias, ActivationParams act, uint32_t seed) {
  SCOPED_TRACE(shape(m, n, k, bt) + " alpha=" + std::to_string(alpha) + (with_bias ? " bias" : "") + " act=" +
               std::string(activation_name(act.kind)));
  const auto a = rounded<T>(random_vector(int64_t(m) * k, seed));
  const auto b = rounded<T>(random_vector(int64_t(k) * n, seed + 1));
  const auto bias = rounded<T>(random_vector(n, seed + 2));
  std::vector<float> ref(size_t(m) * n);
  gemm_ref(m, n, k, a.data(), b.data(), bt, alpha, with_bias ? bias.data() : nullptr, act, ref.data());

  DeviceBuffer da = upload_as<T>(a), db = upload_as<T>(b), dbias = upload_as<T>(bias);
  DeviceBuffer dc = upload_as<T>(std::vector<float>(ref.size(), -123.f));  // poison: every output must be written
  gemm_cuda(m, n, k, da.as<T>(), db.as<T>(), bt, alpha, with_bias ? dbias.as<T>() : nullptr, act, dc.as<T>(),
            nullptr);
  DSTACK_CUDA_CHECK(cudaGetLastError());
  DSTACK_CUDA_CHECK(cudaDeviceSynchronize());
  ktest::Tolerance t = tolerance<T>(k);
  t.atol *= std::fabs(alpha) > 1.f ? std::fabs(alpha) : 1.f;  // outputs scale with alpha
  ktest::expect_close(ref, download_as_float<T>(dc, ref.size()), t);
}

template <typename T>
class GemmCuda : public ::testing::Test {};
TYPED_TEST_SUITE(GemmCuda, dstack::test::StorageTypes, dstack::test::StorageTypeNames);

// 1 .. 130 covers M, N, K below, at and past the 16-wide fragments and 64-wide tiles.
TYPED_TEST(GemmCuda, MatchesRefOverOddShapesBothLayouts) {
  DSTACK_REQUIRE_GPU();
  const int sizes[] = {1, 7, 17, 64, 65, 130};
  uint32_t seed = 100;
  for (int m : sizes)
    for (int n : sizes)
      for (int k : sizes)
        for (bool bt : {false, true}) check_gemm<TypeParam>(m, n, k, bt, 1.f, false, {}, seed += 3);
}

TYPED_TEST(GemmCuda, MatchesRefOnLargerOddShapes) {
  DSTACK_REQUIRE_GPU();
  check_gemm<TypeParam>(300, 257, 311, false, 1.f, true, {}, 7);
  check_gemm<TypeParam>(300, 257, 311, true, 1.f, true, {}, 8);
  check_gemm<TypeParam>(1, 333, 200, true, 1.f, true, {}, 9);   // a single row (batch-1 Linear layer)
  check_gemm<TypeParam>(333, 1, 200, false, 1.f, false, {}, 10);
  check_gemm<TypeParam>(129, 193, 7, true, 1.f, false, {}, 11);  // k shorter than one k tile (and one fragment)
  check_gemm<TypeParam>(63, 63, 33, false, 1.f, true, {}, 12);   // k = 32 + 1: a second, nearly empty k step
}

TYPED_TEST(GemmCuda, AlphaBiasAndEveryActivation) {
  DSTACK_REQUIRE_GPU();
  const ActivationParams acts[] = {{Activation::None},      {Activation::Relu},           {Activation::Relu6},
                                   {Activation::Clip, -0.3f, 0.4f}, {Activation::Gelu}, {Activation::Sigmoid},
                                   {Activation::Silu},      {Activation::Tanh}};
  uint32_t seed = 500;
  for (const ActivationParams& act : acts)
    for (bool bt : {false, true})
      for (bool with_bias : {false, true}) {
        check_gemm<TypeParam>(67, 45, 33, bt, 0.5f, with_bias, act, seed += 3);
        check_gemm<TypeParam>(3, 70, 90, bt, -2.f, with_bias, act, seed += 3);
      }
}

TYPED_TEST(GemmCuda, KZeroWritesActivatedBias) {
  DSTACK_REQUIRE_GPU();
  check_gemm<TypeParam>(5, 70, 0, false, 1.f, true, {Activation::Relu}, 900);
  check_gemm<TypeParam>(5, 70, 0, true, 1.f, false, {}, 901);
}

TYPED_TEST(GemmCuda, ZeroSizeLaunchesNothingAndBadShapesThrow) {
  DSTACK_REQUIRE_GPU();
  using T = TypeParam;
  EXPECT_NO_THROW(gemm_cuda<T>(0, 5, 5, nullptr, nullptr, false, 1.f, nullptr, {}, nullptr, nullptr));
  EXPECT_NO_THROW(gemm_cuda<T>(5, 0, 5, nullptr, nullptr, true, 1.f, nullptr, {}, nullptr, nullptr));
  EXPECT_NO_THROW(batched_matmul_cuda<T>(0, 5, 5, 5, nullptr, 25, nullptr, 25, 1.f, nullptr, 25, nullptr));
  EXPECT_THROW(gemm_cuda<T>(-1, 5, 5, nullptr, nullptr, false, 1.f, nullptr, {}, nullptr, nullptr),
               std::invalid_argument);
  DeviceBuffer buf(1000 * sizeof(T));
  T* p = buf.as<T>();
  // Outputs 5 x 5 apart by 10 elements would overlap.
  EXPECT_THROW(batched_matmul_cuda(2, 5, 5, 5, p, 0, p, 0, 1.f, p, 10, nullptr), std::invalid_argument);
  EXPECT_THROW(batched_matmul_cuda(2, 5, 5, 5, p, 0, p, 0, 1.f, p, 0, nullptr), std::invalid_argument);
  EXPECT_THROW(gemm_cuda<T>(5, 5, 5, p, p, false, 1.f, nullptr, {}, nullptr, nullptr), std::invalid_argument);
  DSTACK_CUDA_CHECK(cudaDeviceSynchronize());
}

// batched_matmul_cuda vs batched_matmul_ref; outputs are laid out stride_c apart and the gaps
// between them must keep their poison.
template <typename T>
void check_batched(int batch, int m, int n, int k, int64_t stride_a, int64_t stride_b, int64_t stride_c, float alpha,
                   uint32_t seed) {
  SCOPED_TRACE("batch=" + std::to_string(batch) + " " + shape(m, n, k, false) + " strides " +
               std::to_string(stride_a) + "/" + std::to_string(stride_b) + "/" + std::to_string(stride_c));
  const auto a = rounded<T>(random_vector(stride_a * (batch - 1) + int64_t(m) * k, seed));
  const auto b = rounded<T>(random_vector(stride_b * (batch - 1) + int64_t(k) * n, seed + 1));
  const size_t c_count = size_t(stride_c * (batch - 1) + int64_t(m) * n);
  std::vector<float> ref(c_count, -123.f);
  batched_matmul_ref(batch, m, n, k, a.data(), stride_a, b.data(), stride_b, alpha, ref.data(), stride_c);

  DeviceBuffer da = upload_as<T>(a), db = upload_as<T>(b), dc = upload_as<T>(std::vector<float>(c_count, -123.f));
  batched_matmul_cuda(batch, m, n, k, da.as<T>(), stride_a, db.as<T>(), stride_b, alpha, dc.as<T>(), stride_c,
                      nullptr);
  DSTACK_CUDA_CHECK(cudaGetLastError());
  DSTACK_CUDA_CHECK(cudaDeviceSynchronize());
  ktest::Tolerance t = tolerance<T>(k);
  t.atol *= std::fabs(alpha) > 1.f ? std::fabs(alpha) : 1.f;
  ktest::expect_close(ref, download_as_float<T>(dc, c_count), t);
}

template <typename T>
class BatchedMatmulCuda : public ::testing::Test {};
TYPED_TEST_SUITE(BatchedMatmulCuda, dstack::test::StorageTypes, dstack::test::StorageTypeNames);

TYPED_TEST(BatchedMatmulCuda, MatchesRefWithStridesAndBroadcast) {
  DSTACK_REQUIRE_GPU();
  const int64_t mk = 37 * 29, kn = 29 * 70, mn = 37 * 70;
  check_batched<TypeParam>(3, 37, 70, 29, mk, kn, mn, 1.f, 1);            // packed
  check_batched<TypeParam>(3, 37, 70, 29, 0, kn, mn, 0.5f, 2);            // A broadcast
  check_batched<TypeParam>(3, 37, 70, 29, mk, 0, mn, -1.f, 3);            // B broadcast
  check_batched<TypeParam>(4, 37, 70, 29, mk + 5, kn + 3, mn + 11, 0.125f, 4);  // gaps between matrices
  check_batched<TypeParam>(1, 1, 1, 1, 0, 0, 0, 1.f, 5);
  check_batched<TypeParam>(5, 1, 300, 64, 64, 64 * 300, 300, 1.f, 6);     // attention-like: one query row
  check_batched<TypeParam>(2, 130, 65, 130, 130 * 130, 130 * 65, 130 * 65, 1.f, 7);
}

TYPED_TEST(BatchedMatmulCuda, BatchBeyondGridZLimitGridStrides) {
  DSTACK_REQUIRE_GPU();
  check_batched<TypeParam>(65537, 1, 2, 3, 3, 6, 2, 1.f, 8);
}

}  // namespace
}  // namespace dstack::kernels
