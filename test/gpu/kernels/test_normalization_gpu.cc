// softmax_cuda, layernorm_cuda and reduce_mean_cuda against the CPU references, at every storage
// precision (typed tests): inputs rounded to the storage type before the reference sees them, the
// kernels reduce in fp32 and round once on store.
//
// Tolerances (|got - ref| <= atol + rtol * |ref|) at fp32 below; at fp16 / bf16
// ktest::storage_tolerance (test/kernels/tolerance.h): the outputs are O(1) values rounded once.
// - softmax: expf differs by an ulp or two between CUDA and libm, and the row sum is a tree on the
//   GPU but sequential on the CPU (relative error ~ sqrt(cols) * 6e-8 for cols <= 1000):
//   atol 1e-6, rtol 5e-5.
// - layer norm: mean and variance sums in different order, then scaled by 1/std (~1.7 for inputs in
//   [-2, 2]) and gamma: atol 1e-5, rtol 1e-4.
// - reduce_mean: the GPU sums the reduce axis in the same order as the CPU: atol 1e-6, rtol 1e-5.
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/normalization.h"
#include "kernels/convert_cuda.h"
#include "kernels/normalization_cuda.h"
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

template <typename T>
void expect_close(const std::vector<float>& ref, const std::vector<float>& got, float fp32_atol, float fp32_rtol) {
  ktest::expect_close(ref, got, ktest::storage_tolerance(precision_of<T>(), {fp32_atol, fp32_rtol}));
}

template <typename T>
class SoftmaxCuda : public ::testing::Test {};
TYPED_TEST_SUITE(SoftmaxCuda, dstack::test::StorageTypes, dstack::test::StorageTypeNames);
template <typename T>
class LayernormCuda : public ::testing::Test {};
TYPED_TEST_SUITE(LayernormCuda, dstack::test::StorageTypes, dstack::test::StorageTypeNames);
template <typename T>
class ReduceMeanCuda : public ::testing::Test {};
TYPED_TEST_SUITE(ReduceMeanCuda, dstack::test::StorageTypes, dstack::test::StorageTypeNames);
template <typename T>
class NormalizationCuda : public ::testing::Test {};
TYPED_TEST_SUITE(NormalizationCuda, dstack::test::StorageTypes, dstack::test::StorageTypeNames);

void sync() {
  DSTACK_CUDA_CHECK(cudaGetLastError());
  DSTACK_CUDA_CHECK(cudaDeviceSynchronize());
}

template <typename T>
void check_softmax(int64_t rows, int64_t cols, float lo, float hi, uint32_t seed) {
  SCOPED_TRACE("rows=" + std::to_string(rows) + " cols=" + std::to_string(cols) + " range [" + std::to_string(lo) +
               ", " + std::to_string(hi) + "]");
  const auto x = rounded<T>(random_vector(rows * cols, seed, lo, hi));
  std::vector<float> ref(x.size());
  softmax_ref(rows, cols, x.data(), ref.data());
  DeviceBuffer dx = upload_as<T>(x), dy = upload_as<T>(std::vector<float>(x.size(), -123.f));
  softmax_cuda(rows, cols, dx.as<T>(), dy.as<T>(), nullptr);
  sync();
  expect_close<T>(ref, download_as_float<T>(dy, x.size()), 1e-6f, 5e-5f);
}

TYPED_TEST(SoftmaxCuda, MatchesRefOverOddShapes) {
  DSTACK_REQUIRE_GPU();
  const int64_t rows[] = {1, 3, 67};
  const int64_t cols[] = {1, 2, 31, 32, 33, 100, 255, 256, 257, 1000};
  uint32_t seed = 1;
  for (int64_t r : rows)
    for (int64_t c : cols) check_softmax<TypeParam>(r, c, -5.f, 5.f, seed++);
}

TYPED_TEST(SoftmaxCuda, LargeLogitsAreMaxSubtracted) {
  DSTACK_REQUIRE_GPU();
  check_softmax<TypeParam>(5, 300, 80.f, 120.f, 40);     // exp(x) alone would overflow float
  check_softmax<TypeParam>(4, 77, -120.f, -80.f, 41);    // and underflow to 0 / 0
}

TYPED_TEST(SoftmaxCuda, ManyShortRows) {
  DSTACK_REQUIRE_GPU();
  check_softmax<TypeParam>(4096, 7, -3.f, 3.f, 42);
  check_softmax<TypeParam>(12 * 64, 64, -3.f, 3.f, 43);  // attention scores: heads * queries rows of keys
}

template <typename T>
void check_layernorm(int64_t rows, int64_t cols, bool affine, float eps, uint32_t seed) {
  SCOPED_TRACE("rows=" + std::to_string(rows) + " cols=" + std::to_string(cols) + (affine ? " gamma/beta" : ""));
  const auto x = rounded<T>(random_vector(rows * cols, seed, -2.f, 2.5f));
  const auto gamma = rounded<T>(random_vector(cols, seed + 1, 0.5f, 1.5f));
  const auto beta = rounded<T>(random_vector(cols, seed + 2, -1.f, 1.f));
  std::vector<float> ref(x.size());
  layernorm_ref(rows, cols, x.data(), affine ? gamma.data() : nullptr, affine ? beta.data() : nullptr, eps,
                ref.data());
  DeviceBuffer dx = upload_as<T>(x), dg = upload_as<T>(gamma), db = upload_as<T>(beta),
               dy = upload_as<T>(std::vector<float>(x.size(), -123.f));
  layernorm_cuda(rows, cols, dx.as<T>(), affine ? dg.as<T>() : nullptr, affine ? db.as<T>() : nullptr, eps, dy.as<T>(),
                 nullptr);
  sync();
  expect_close<T>(ref, download_as_float<T>(dy, x.size()), 1e-5f, 1e-4f);
}

TYPED_TEST(LayernormCuda, MatchesRefOverOddShapes) {
  DSTACK_REQUIRE_GPU();
  const int64_t rows[] = {1, 5, 33};
  const int64_t cols[] = {1, 2, 31, 33, 256, 257, 768, 1000};
  uint32_t seed = 100;
  for (int64_t r : rows)
    for (int64_t c : cols)
      for (bool affine : {false, true}) check_layernorm<TypeParam>(r, c, affine, 1e-5f, seed += 3);
  check_layernorm<TypeParam>(7, 50, true, 1e-12f, 200);  // BERT's eps
  check_layernorm<TypeParam>(7, 50, true, 0.1f, 201);
}

template <typename T>
void check_reduce_mean(int64_t outer, int64_t reduce, int64_t inner, uint32_t seed) {
  SCOPED_TRACE("outer=" + std::to_string(outer) + " reduce=" + std::to_string(reduce) +
               " inner=" + std::to_string(inner));
  const auto x = rounded<T>(random_vector(outer * reduce * inner, seed));
  std::vector<float> ref(size_t(outer * inner));
  reduce_mean_ref(outer, reduce, inner, x.data(), ref.data());
  DeviceBuffer dx = upload_as<T>(x), dy = upload_as<T>(std::vector<float>(ref.size(), -123.f));
  reduce_mean_cuda(outer, reduce, inner, dx.as<T>(), dy.as<T>(), nullptr);
  sync();
  expect_close<T>(ref, download_as_float<T>(dy, ref.size()), 1e-6f, 1e-5f);
}

TYPED_TEST(ReduceMeanCuda, MatchesRefOverOddShapes) {
  DSTACK_REQUIRE_GPU();
  check_reduce_mean<TypeParam>(1, 1, 1, 1);
  check_reduce_mean<TypeParam>(3, 300, 1, 2);     // mean over the last axis
  check_reduce_mean<TypeParam>(1, 7, 257, 3);     // over the first
  check_reduce_mean<TypeParam>(2, 49, 64, 4);
  check_reduce_mean<TypeParam>(8, 49, 1, 5);      // global average pool, NCHW, 7x7
  check_reduce_mean<TypeParam>(5, 1, 33, 6);
  check_reduce_mean<TypeParam>(300, 3, 300, 7);   // 90000 outputs: several hundred blocks
}

TYPED_TEST(NormalizationCuda, ZeroSizeLaunchesNothingAndBadShapesThrow) {
  DSTACK_REQUIRE_GPU();
  using T = TypeParam;
  EXPECT_NO_THROW(softmax_cuda<T>(0, 5, nullptr, nullptr, nullptr));
  EXPECT_NO_THROW(softmax_cuda<T>(5, 0, nullptr, nullptr, nullptr));
  EXPECT_NO_THROW(layernorm_cuda<T>(0, 5, nullptr, nullptr, nullptr, 1e-5f, nullptr, nullptr));
  EXPECT_NO_THROW(reduce_mean_cuda<T>(0, 5, 5, nullptr, nullptr, nullptr));
  EXPECT_NO_THROW(reduce_mean_cuda<T>(5, 5, 0, nullptr, nullptr, nullptr));
  EXPECT_THROW(softmax_cuda<T>(-1, 5, nullptr, nullptr, nullptr), std::invalid_argument);
  EXPECT_THROW(layernorm_cuda<T>(3, -5, nullptr, nullptr, nullptr, 1e-5f, nullptr, nullptr), std::invalid_argument);
  EXPECT_THROW(reduce_mean_cuda<T>(3, -1, 2, nullptr, nullptr, nullptr), std::invalid_argument);
  EXPECT_THROW(softmax_cuda<T>(3, 5, nullptr, nullptr, nullptr), std::invalid_argument);  // null pointers
  sync();
}

}  // namespace
}  // namespace dstack::kernels
