// Elementwise CUDA kernels against the CPU reference on seeded random inputs and odd shapes, at
// every storage precision (typed tests). Inputs are rounded to the storage type before the
// reference sees them; the kernels compute in fp32 and round once on store.
// Tolerances: exact where the kernel does the same IEEE float ops as the reference (neg, relu,
// clip, sqrt, reciprocal, add/sub/mul/div, the affine without a transcendental activation); at
// fp16 / bf16 the reference is then rounded to the storage type as well and must match bit for bit.
// Where CUDA's libm differs from the host's by a few ulp (erf, exp, pow, gelu, sigmoid, silu, tanh):
// ktest::kMathAtol / kMathRtol at fp32, ktest::storage_tolerance at fp16 / bf16 (one rounding of a
// value a few fp32 ulps off can land one storage ulp away).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/elementwise.h"
#include "kernels/elementwise_cuda.h"
#include "runtime/backend/cuda/check.h"
#include "runtime/backend/cuda/resources.h"
#include "test/gpu/device_data.h"
#include "test/gpu/gpu_test_env.h"
#include "test/kernels/test_data.h"
#include "test/kernels/tolerance.h"

namespace dstack::kernels {
namespace {

using dstack::test::download_as_float;
using dstack::test::poisoned_as;
using dstack::test::rounded;
using dstack::test::upload_as;

using ktest::element_count;
using ktest::expect_close;
using ktest::kExact;
using ktest::kMathAtol;
using ktest::kMathRtol;
using ktest::random_vector;

// Compares got with ref: bit for bit (after rounding ref to T) where the kernel does the reference's
// IEEE ops, else within the libm tolerance of T's precision.
template <typename T>
void expect_matches(const std::vector<float>& ref, const std::vector<float>& got, bool exact) {
  if (exact) {
    expect_close(rounded<T>(ref), got, kExact, kExact);
  } else {
    expect_close(ref, got, ktest::storage_tolerance(precision_of<T>(), {kMathAtol, kMathRtol}));
  }
}

template <typename T>
class ElementwiseGpu : public ::testing::Test {};
TYPED_TEST_SUITE(ElementwiseGpu, dstack::test::StorageTypes, dstack::test::StorageTypeNames);

struct UnaryCase {
  UnaryOp op;
  ActivationParams act;
  float lo, hi;
  bool exact;
};

TYPED_TEST(ElementwiseGpu, UnaryMatchesReference) {
  DSTACK_REQUIRE_GPU();
  using T = TypeParam;
  const std::vector<UnaryCase> cases = {
      {UnaryOp::Neg, {}, -3.f, 3.f, true},
      {UnaryOp::Sqrt, {}, 0.01f, 9.f, true},
      {UnaryOp::Reciprocal, {}, 0.05f, 4.f, true},
      {UnaryOp::Erf, {}, -3.f, 3.f, false},
      {UnaryOp::Exp, {}, -5.f, 5.f, false},
      {UnaryOp::Activation, {Activation::None, 0.f, 0.f}, -3.f, 3.f, true},
      {UnaryOp::Activation, {Activation::Relu, 0.f, 0.f}, -3.f, 3.f, true},
      {UnaryOp::Activation, {Activation::Relu6, 0.f, 0.f}, -8.f, 8.f, true},
      {UnaryOp::Activation, {Activation::Clip, -0.5f, 1.5f}, -3.f, 3.f, true},
      {UnaryOp::Activation, {Activation::Gelu, 0.f, 0.f}, -3.f, 3.f, false},
      {UnaryOp::Activation, {Activation::Sigmoid, 0.f, 0.f}, -6.f, 6.f, false},
      {UnaryOp::Activation, {Activation::Silu, 0.f, 0.f}, -6.f, 6.f, false},
      {UnaryOp::Activation, {Activation::Tanh, 0.f, 0.f}, -4.f, 4.f, false},
  };
  cuda::Stream stream;
  uint32_t seed = 1;
  for (const UnaryCase& c : cases) {
    for (int64_t count : {int64_t(1), int64_t(4099)}) {
      SCOPED_TRACE(std::string(unary_op_name(c.op)) + "/" + std::string(activation_name(c.act.kind)) + " count " +
                   std::to_string(count));
      const std::vector<float> x = rounded<T>(random_vector(count, seed++, c.lo, c.hi));
      std::vector<float> ref(x.size());
      unary_ref(c.op, c.act, count, x.data(), ref.data());
      const cuda::DeviceBuffer dx = upload_as<T>(x), dy = poisoned_as<T>(x.size());
      unary_cuda(c.op, c.act, count, dx.as<T>(), dy.as<T>(), stream.get());
      stream.synchronize();
      expect_matches<T>(ref, download_as_float<T>(dy, x.size()), c.exact);
    }
  }
}

TYPED_TEST(ElementwiseGpu, UnaryGridStrideCoversMoreThanTheGridCap) {
  DSTACK_REQUIRE_GPU();
  using T = TypeParam;
  const int64_t count = int64_t(kElementwiseGridCap) * kElementwiseBlock * 2 + 3;  // ~2M elements, 8 MB
  ASSERT_EQ(unary_launch(count, precision_of<T>()).grid.x, kElementwiseGridCap);
  const std::vector<float> x = rounded<T>(random_vector(count, 5));
  std::vector<float> ref(x.size());
  unary_ref(UnaryOp::Neg, {}, count, x.data(), ref.data());
  cuda::Stream stream;
  const cuda::DeviceBuffer dx = upload_as<T>(x), dy = poisoned_as<T>(x.size());
  unary_cuda(UnaryOp::Neg, {}, count, dx.as<T>(), dy.as<T>(), stream.get());
  stream.synchronize();
  expect_matches<T>(ref, download_as_float<T>(dy, x.size()), true);
}

TYPED_TEST(ElementwiseGpu, BinaryBroadcastMatchesReference) {
  DSTACK_REQUIRE_GPU();
  using T = TypeParam;
  struct Case {
    std::vector<int64_t> a, b;
  };
  const std::vector<Case> cases = {
      {{2, 1, 4}, {3, 1}},
      {{3, 1}, {2, 1, 4}},
      {{}, {2, 3}},
      {{2, 3}, {}},
      {{}, {}},
      {{1}, {5}},
      {{4, 1, 3, 1}, {5, 1, 1}},
      {{1, 1, 1}, {1, 1, 1}},
      {{3, 1}, {1, 4}},
      {{2, 3, 4}, {2, 3, 4}},
      {{7}, {1, 1, 1, 7}},
      {{2, 1, 2, 1, 2, 1, 2, 1}, {1, 3, 1, 3, 1, 3, 1, 3}},
      {{2, 64, 33}, {64, 1}},  // bias over channels, odd inner
      {{3, 700}, {3, 700}},    // same shape, more than one block
  };
  cuda::Stream stream;
  uint32_t seed = 100;
  for (const Case& c : cases) {
    std::vector<int64_t> out;
    ASSERT_TRUE(broadcast_shape(c.a, c.b, out));
    // Positive operands away from 0 keep div and pow finite.
    const std::vector<float> a = rounded<T>(random_vector(element_count(c.a), seed++, 0.25f, 2.f));
    const std::vector<float> b = rounded<T>(random_vector(element_count(c.b), seed++, 0.25f, 2.f));
    const cuda::DeviceBuffer da = upload_as<T>(a), db = upload_as<T>(b);
    const size_t n_out = static_cast<size_t>(element_count(out));
    for (BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Pow}) {
      SCOPED_TRACE(std::string(binary_op_name(op)) + " case seed " + std::to_string(seed));
      std::vector<float> ref(n_out);
      binary_ref(op, c.a, a.data(), c.b, b.data(), out, ref.data());
      const cuda::DeviceBuffer dy = poisoned_as<T>(n_out);
      binary_cuda(op, c.a, da.as<T>(), c.b, db.as<T>(), out, dy.as<T>(), stream.get());
      stream.synchronize();
      expect_matches<T>(ref, download_as_float<T>(dy, n_out), op != BinaryOp::Pow);
    }
  }
}

TYPED_TEST(ElementwiseGpu, BinaryRejectsAndSkips) {
  DSTACK_REQUIRE_GPU();
  using T = TypeParam;
  cuda::Stream stream;
  const std::vector<int64_t> rank9 = {1, 1, 1, 1, 1, 1, 1, 1, 2};
  EXPECT_THROW(binary_cuda<T>(BinaryOp::Add, rank9, nullptr, {2}, nullptr, rank9, nullptr, stream.get()),
               std::invalid_argument);
  EXPECT_THROW(binary_cuda<T>(BinaryOp::Add, {3}, nullptr, {4}, nullptr, {4}, nullptr, stream.get()),
               std::invalid_argument);
  // Zero-size work launches nothing (the null pointers are never touched).
  EXPECT_NO_THROW(binary_cuda<T>(BinaryOp::Add, {0, 3}, nullptr, {3}, nullptr, {0, 3}, nullptr, stream.get()));
  EXPECT_NO_THROW(unary_cuda<T>(UnaryOp::Exp, {}, 0, nullptr, nullptr, stream.get()));
  EXPECT_NO_THROW(channel_affine_cuda<T>(0, 3, 5, nullptr, nullptr, nullptr, {}, nullptr, stream.get()));
  stream.synchronize();
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

TYPED_TEST(ElementwiseGpu, ChannelAffineMatchesReference) {
  DSTACK_REQUIRE_GPU();
  using T = TypeParam;
  struct Case {
    int n, c;
    int64_t inner;
  };
  const std::vector<Case> shapes = {{3, 5, 7}, {1, 1, 1}, {2, 64, 1}, {1, 3, 1000}, {4, 17, 49}};
  const std::vector<ActivationParams> acts = {
      {Activation::None, 0.f, 0.f}, {Activation::Relu, 0.f, 0.f}, {Activation::Clip, -0.25f, 0.5f},
      {Activation::Gelu, 0.f, 0.f}, {Activation::Sigmoid, 0.f, 0.f}};
  cuda::Stream stream;
  uint32_t seed = 200;
  for (const Case& s : shapes) {
    const int64_t count = int64_t(s.n) * s.c * s.inner;
    const std::vector<float> x = rounded<T>(random_vector(count, seed++, -2.f, 2.f));
    const std::vector<float> scale = rounded<T>(random_vector(s.c, seed++, -1.5f, 1.5f));
    const std::vector<float> shift = rounded<T>(random_vector(s.c, seed++, -1.f, 1.f));
    const cuda::DeviceBuffer dx = upload_as<T>(x), dscale = upload_as<T>(scale), dshift = upload_as<T>(shift);
    for (const ActivationParams& act : acts) {
      SCOPED_TRACE(std::string(activation_name(act.kind)) + " n " + std::to_string(s.n) + " c " +
                   std::to_string(s.c) + " inner " + std::to_string(s.inner));
      std::vector<float> ref(x.size());
      channel_affine_ref(s.n, s.c, s.inner, x.data(), scale.data(), shift.data(), act, ref.data());
      const cuda::DeviceBuffer dy = poisoned_as<T>(x.size());
      channel_affine_cuda(s.n, s.c, s.inner, dx.as<T>(), dscale.as<T>(), dshift.as<T>(), act, dy.as<T>(),
                          stream.get());
      stream.synchronize();
      const bool exact = act.kind == Activation::None || act.kind == Activation::Relu || act.kind == Activation::Clip;
      expect_matches<T>(ref, download_as_float<T>(dy, x.size()), exact);
    }
  }
}

}  // namespace
}  // namespace dstack::kernels
