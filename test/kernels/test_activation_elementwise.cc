// Activations, unary ops, NumPy-broadcast binary ops and the channel affine, against naive loops
// and hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "kernels/elementwise.h"
#include "test/kernels/test_data.h"
#include "test/kernels/tolerance.h"

namespace dstack::kernels {
namespace {

using ktest::expect_close;
using ktest::random_vector;
using Shape = std::vector<int64_t>;

TEST(Activation, NamesAreDistinct) {
  EXPECT_EQ(activation_name(Activation::None), "none");
  EXPECT_EQ(activation_name(Activation::Relu), "relu");
  EXPECT_EQ(activation_name(Activation::Relu6), "relu6");
  EXPECT_EQ(activation_name(Activation::Clip), "clip");
  EXPECT_EQ(activation_name(Activation::Gelu), "gelu");
  EXPECT_EQ(activation_name(Activation::Sigmoid), "sigmoid");
  EXPECT_EQ(activation_name(Activation::Silu), "silu");
  EXPECT_EQ(activation_name(Activation::Tanh), "tanh");
  EXPECT_EQ(unary_op_name(UnaryOp::Reciprocal), "reciprocal");
  EXPECT_EQ(binary_op_name(BinaryOp::Pow), "pow");
}

TEST(Activation, HandComputedValues) {
  auto act = [](Activation kind, float x) { return apply_activation({kind}, x); };
  EXPECT_EQ(act(Activation::None, -2.5f), -2.5f);
  EXPECT_EQ(act(Activation::Relu, -1.f), 0.f);
  EXPECT_EQ(act(Activation::Relu, 3.f), 3.f);
  EXPECT_EQ(act(Activation::Relu6, -1.f), 0.f);
  EXPECT_EQ(act(Activation::Relu6, 7.f), 6.f);
  EXPECT_EQ(act(Activation::Relu6, 2.5f), 2.5f);
  EXPECT_EQ(apply_activation({Activation::Clip, -1.f, 2.f}, -3.f), -1.f);
  EXPECT_EQ(apply_activation({Activation::Clip, -1.f, 2.f}, 5.f), 2.f);
  EXPECT_EQ(apply_activation({Activation::Clip, -1.f, 2.f}, 0.5f), 0.5f);
  EXPECT_NEAR(act(Activation::Gelu, 1.f), 0.8413447f, 1e-6f);
  EXPECT_NEAR(act(Activation::Gelu, -1.f), -0.1586553f, 1e-6f);
  EXPECT_EQ(act(Activation::Sigmoid, 0.f), 0.5f);
  EXPECT_NEAR(act(Activation::Sigmoid, 2.f), 0.8807971f, 1e-6f);
  EXPECT_NEAR(act(Activation::Silu, 1.f), 0.7310586f, 1e-6f);
  EXPECT_NEAR(act(Activation::Tanh, 0.5f), 0.4621172f, 1e-6f);
}

double naive_unary(UnaryOp op, double x) {
  switch (op) {
    case UnaryOp::Erf: return std::erf(x);
    case UnaryOp::Sqrt: return std::sqrt(x);
    case UnaryOp::Neg: return -x;
    case UnaryOp::Reciprocal: return 1.0 / x;
    case UnaryOp::Exp: return std::exp(x);
    case UnaryOp::Activation: return 1.0 / (1.0 + std::exp(-x));  // the tests pass Sigmoid
  }
  return x;
}

TEST(UnaryRef, MatchesDoubleMath) {
  const auto x = random_vector(257, 5, 0.1f, 4.f);  // positive, for sqrt and reciprocal
  for (UnaryOp op : {UnaryOp::Activation, UnaryOp::Erf, UnaryOp::Sqrt, UnaryOp::Neg, UnaryOp::Reciprocal,
                     UnaryOp::Exp}) {
    SCOPED_TRACE(std::string(unary_op_name(op)));
    std::vector<float> ref(x.size()), y(x.size());
    for (size_t i = 0; i < x.size(); ++i) ref[i] = float(naive_unary(op, x[i]));
    unary_ref(op, {Activation::Sigmoid}, int64_t(x.size()), x.data(), y.data());
    expect_close(ref, y, ktest::kMathAtol, ktest::kMathRtol);
  }
}

TEST(BroadcastShape, NumpyRules) {
  Shape out;
  ASSERT_TRUE(broadcast_shape({2, 1, 4}, {3, 1}, out));
  EXPECT_EQ(out, (Shape{2, 3, 4}));
  ASSERT_TRUE(broadcast_shape({}, {3}, out));
  EXPECT_EQ(out, (Shape{3}));
  ASSERT_TRUE(broadcast_shape({5, 1, 1, 3}, {4, 2, 1}, out));
  EXPECT_EQ(out, (Shape{5, 4, 2, 3}));
  ASSERT_TRUE(broadcast_shape({0, 1}, {1, 3}, out));
  EXPECT_EQ(out, (Shape{0, 3}));
  out = {9};
  EXPECT_FALSE(broadcast_shape({2, 3}, {4, 3}, out));
  EXPECT_FALSE(broadcast_shape({0}, {2}, out));
  EXPECT_EQ(out, (Shape{9})) << "a failed broadcast writes nothing";
}

float naive_binary(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
    case BinaryOp::Pow: return float(std::pow(double(a), double(b)));
  }
  return 0.f;
}

// The element of `shape` that output index `out_index` reads: right-aligned, index 0 along size-1 dims.
int64_t broadcast_source(const Shape& out_index, const Shape& shape) {
  Shape index(shape.size());
  const size_t lead = out_index.size() - shape.size();
  for (size_t d = 0; d < shape.size(); ++d) index[d] = shape[d] == 1 ? 0 : out_index[lead + d];
  return ktest::ravel(index, shape);
}

TEST(BinaryRef, BroadcastsLikeNumpy) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{2, 1, 4}, {3, 1}},       {{4}, {2, 3, 4}},        {{2, 3, 4}, {2, 3, 4}}, {{2, 3}, {}},
      {{}, {}},                  {{5, 1, 1, 3}, {1, 4, 2, 1}}, {{3, 1}, {1, 1}},    {{1, 6}, {5, 1}},
      {{2, 3, 1, 1}, {3, 1, 7}},
  };
  uint32_t seed = 20;
  for (const auto& [a_shape, b_shape] : cases) {
    Shape out_shape;
    ASSERT_TRUE(broadcast_shape(a_shape, b_shape, out_shape));
    // a in (0.5, 2) and b in (-2, 2): Div has no zero divisor and Pow a positive base.
    const auto a = random_vector(ktest::element_count(a_shape), seed++, 0.5f, 2.f);
    const auto b = random_vector(ktest::element_count(b_shape), seed++, -2.f, 2.f);
    for (BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Pow}) {
      SCOPED_TRACE(std::string(binary_op_name(op)) + " of shapes with " + std::to_string(a_shape.size()) + " and " +
                   std::to_string(b_shape.size()) + " dims, case " + std::to_string(seed));
      const int64_t total = ktest::element_count(out_shape);
      std::vector<float> ref(static_cast<size_t>(total)), y(static_cast<size_t>(total), -7.f);
      for (int64_t i = 0; i < total; ++i) {
        const Shape index = ktest::unravel(i, out_shape);
        ref[size_t(i)] = naive_binary(op, a[size_t(broadcast_source(index, a_shape))],
                                      b[size_t(broadcast_source(index, b_shape))]);
      }
      binary_ref(op, a_shape, a.data(), b_shape, b.data(), out_shape, y.data());
      if (op == BinaryOp::Pow)
        expect_close(ref, y, ktest::kMathAtol, ktest::kMathRtol);
      else
        expect_close(ref, y, ktest::kExact, ktest::kExact);
    }
  }
}

TEST(BinaryRef, HandComputedBroadcast) {
  const float a[] = {1, 2};         // [2, 1]
  const float b[] = {10, 20, 30};   // [3]
  float y[6];
  binary_ref(BinaryOp::Sub, {2, 1}, a, {3}, b, {2, 3}, y);
  EXPECT_EQ(std::vector<float>(y, y + 6), (std::vector<float>{-9, -19, -29, -8, -18, -28}));
  const float base[] = {2, 3};
  const float exponent[] = {3};
  binary_ref(BinaryOp::Pow, {2}, base, {}, exponent, {2}, y);
  EXPECT_EQ(y[0], 8.f);
  EXPECT_EQ(y[1], 27.f);
}

TEST(ChannelAffineRef, MatchesNaive) {
  const int n = 2, c = 3;
  const int64_t inner = 10;
  const auto x = random_vector(n * c * inner, 1);
  const auto scale = random_vector(c, 2);
  const auto shift = random_vector(c, 3);
  std::vector<float> ref(x.size()), y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t ch = (i / size_t(inner)) % c;
    ref[i] = std::max(0.f, x[i] * scale[ch] + shift[ch]);
  }
  channel_affine_ref(n, c, inner, x.data(), scale.data(), shift.data(), {Activation::Relu}, y.data());
  expect_close(ref, y, ktest::kExact, ktest::kExact);
}

}  // namespace
}  // namespace dstack::kernels
