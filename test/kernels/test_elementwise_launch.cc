// Elementwise CUDA side, on the CPU: launch geometry, and the kernels' index math and op math
// (kernels/elementwise.h) replayed element by element against the CPU reference, bit for bit.
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernels/elementwise.h"
#include "test/kernels/test_data.h"
#include "test/kernels/tolerance.h"

namespace dstack::kernels {
namespace {

using ktest::element_count;
using ktest::expect_close;
using ktest::kExact;
using ktest::random_vector;

TEST(ElementwiseLaunch, GridStrideGeometry) {
  EXPECT_EQ(unary_launch(0).grid.x, 0u);
  const LaunchGeometry one = unary_launch(1);
  EXPECT_EQ(one.kernel, "unary<float>");
  EXPECT_EQ(one.grid.x, 1u);
  EXPECT_EQ(one.block.x, 256u);
  EXPECT_EQ(one.block.count(), 256u);
  EXPECT_EQ(one.shared_bytes, 0u);
  EXPECT_EQ(unary_launch(256).grid.x, 1u);
  EXPECT_EQ(unary_launch(257).grid.x, 2u);
  EXPECT_EQ(unary_launch(int64_t(1) << 40).grid.x, kElementwiseGridCap);
  EXPECT_EQ(channel_affine_launch(2, 3, 100).grid.x, 3u);  // 600 elements
  EXPECT_EQ(channel_affine_launch(2, 0, 100).grid.x, 0u);
  EXPECT_EQ(channel_affine_launch(2, 3, 100).kernel, "channel_affine<float>");
}

TEST(ElementwiseLaunch, BinaryPicksTheKernel) {
  EXPECT_EQ(binary_launch({2, 3}, {2, 3}, {2, 3}).kernel, "binary_same_shape<float>");
  EXPECT_EQ(binary_launch({2, 3}, {3}, {2, 3}).kernel, "binary_broadcast<float>");
  EXPECT_EQ(binary_launch({2, 1, 4}, {3, 1}, {2, 3, 4}).grid.x, 1u);
  EXPECT_EQ(binary_launch({0, 3}, {0, 3}, {0, 3}).grid.x, 0u);
}

TEST(ElementwiseLaunch, UnaryMathMatchesTheReferenceBitForBit) {
  const std::vector<float> x = random_vector(1000, 7, -3.f, 3.f);
  const std::vector<float> pos = random_vector(1000, 8, 0.05f, 4.f);
  struct Case {
    UnaryOp op;
    ActivationParams act;
    const std::vector<float>* in;
  };
  const std::vector<Case> cases = {
      {UnaryOp::Erf, {}, &x},
      {UnaryOp::Sqrt, {}, &pos},
      {UnaryOp::Neg, {}, &x},
      {UnaryOp::Reciprocal, {}, &pos},
      {UnaryOp::Exp, {}, &x},
      {UnaryOp::Activation, {Activation::Relu, 0.f, 0.f}, &x},
      {UnaryOp::Activation, {Activation::Relu6, 0.f, 0.f}, &x},
      {UnaryOp::Activation, {Activation::Clip, -0.5f, 1.5f}, &x},
      {UnaryOp::Activation, {Activation::Gelu, 0.f, 0.f}, &x},
      {UnaryOp::Activation, {Activation::Sigmoid, 0.f, 0.f}, &x},
      {UnaryOp::Activation, {Activation::Silu, 0.f, 0.f}, &x},
      {UnaryOp::Activation, {Activation::Tanh, 0.f, 0.f}, &x},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(unary_op_name(c.op)) + "/" + std::string(activation_name(c.act.kind)));
    std::vector<float> ref(c.in->size()), got(c.in->size());
    unary_ref(c.op, c.act, int64_t(c.in->size()), c.in->data(), ref.data());
    for (size_t i = 0; i < got.size(); ++i) got[i] = unary_op_apply(c.op, c.act, (*c.in)[i]);
    expect_close(ref, got, kExact, kExact);
  }
}

// What binary_broadcast<T> computes, element by element.
std::vector<float> emulate_binary(BinaryOp op, const std::vector<int64_t>& as, const std::vector<float>& a,
                                  const std::vector<int64_t>& bs, const std::vector<float>& b,
                                  const std::vector<int64_t>& out) {
  const BroadcastIndexer ix = make_broadcast_indexer(as, bs, out);
  std::vector<float> y(static_cast<size_t>(element_count(out)));
  for (int64_t i = 0; i < int64_t(y.size()); ++i) {
    int64_t oa = -1, ob = -1;
    ix.offsets(i, oa, ob);
    EXPECT_GE(oa, 0);
    EXPECT_LT(oa, int64_t(a.size()));
    EXPECT_GE(ob, 0);
    EXPECT_LT(ob, int64_t(b.size()));
    if (oa < 0 || oa >= int64_t(a.size()) || ob < 0 || ob >= int64_t(b.size())) return {};
    y[size_t(i)] = binary_op_apply(op, a[size_t(oa)], b[size_t(ob)]);
  }
  return y;
}

TEST(ElementwiseLaunch, BroadcastIndexerMatchesTheReferenceOnOddShapes) {
  struct Case {
    std::vector<int64_t> a, b;
  };
  const std::vector<Case> cases = {
      {{2, 1, 4}, {3, 1}},       {{3, 1}, {2, 1, 4}},     {{}, {2, 3}},          {{2, 3}, {}},
      {{1}, {5}},                {{4, 1, 3, 1}, {5, 1, 1}}, {{1, 1, 1}, {1, 1, 1}}, {{3, 1}, {1, 4}},
      {{2, 3, 4}, {2, 3, 4}},    {{7}, {1, 1, 1, 7}},     {{2, 1, 2, 1, 2, 1, 2, 1}, {1, 3, 1, 3, 1, 3, 1, 3}},
      {{1, 5, 1}, {6, 1, 1}},
  };
  uint32_t seed = 100;
  for (const Case& c : cases) {
    std::vector<int64_t> out;
    ASSERT_TRUE(broadcast_shape(c.a, c.b, out));
    const std::vector<float> a = random_vector(element_count(c.a), seed++, 0.5f, 2.f);
    const std::vector<float> b = random_vector(element_count(c.b), seed++, 0.5f, 2.f);
    for (BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Pow}) {
      SCOPED_TRACE(std::string(binary_op_name(op)) + " case " + std::to_string(seed));
      std::vector<float> ref(size_t(element_count(out)));
      binary_ref(op, c.a, a.data(), c.b, b.data(), out, ref.data());
      expect_close(ref, emulate_binary(op, c.a, a, c.b, b, out), kExact, kExact);
    }
  }
}

TEST(ElementwiseLaunch, BroadcastIndexerStrides) {
  const BroadcastIndexer ix = make_broadcast_indexer({2, 1, 4}, {3, 1}, {2, 3, 4});
  EXPECT_EQ(ix.rank, 3);
  EXPECT_EQ(ix.a_strides[0], 4);
  EXPECT_EQ(ix.a_strides[1], 0);
  EXPECT_EQ(ix.a_strides[2], 1);
  EXPECT_EQ(ix.b_strides[0], 0);
  EXPECT_EQ(ix.b_strides[1], 1);
  EXPECT_EQ(ix.b_strides[2], 0);
  int64_t oa = 0, ob = 0;
  ix.offsets(23, oa, ob);  // (1, 2, 3)
  EXPECT_EQ(oa, 7);
  EXPECT_EQ(ob, 2);
  const BroadcastIndexer scalar = make_broadcast_indexer({}, {}, {});
  scalar.offsets(0, oa, ob);
  EXPECT_EQ(oa, 0);
  EXPECT_EQ(ob, 0);
}

TEST(ElementwiseLaunch, BroadcastIndexerRejectsWhatTheKernelCannotDo) {
  EXPECT_THROW(make_broadcast_indexer({1, 1, 1, 1, 1, 1, 1, 1, 2}, {2}, {1, 1, 1, 1, 1, 1, 1, 1, 2}),
               std::invalid_argument);
  EXPECT_THROW(make_broadcast_indexer({3}, {4}, {4}), std::invalid_argument);
  EXPECT_THROW(make_broadcast_indexer({2, 3}, {3}, {3}), std::invalid_argument);
  EXPECT_NO_THROW(make_broadcast_indexer({1, 1, 1, 1, 1, 1, 1, 2}, {2}, {1, 1, 1, 1, 1, 1, 1, 2}));
}

TEST(ElementwiseLaunch, ChannelOfMatchesTheReference) {
  const int n = 3, c = 5;
  const int64_t inner = 7;
  const std::vector<float> x = random_vector(n * c * inner, 1);
  const std::vector<float> scale = random_vector(c, 2), shift = random_vector(c, 3);
  std::vector<float> ref(x.size()), got(x.size());
  channel_affine_ref(n, c, inner, x.data(), scale.data(), shift.data(), ActivationParams{}, ref.data());
  for (int64_t i = 0; i < int64_t(x.size()); ++i) {
    const int64_t ch = channel_affine_channel(i, c, inner);
    ASSERT_GE(ch, 0);
    ASSERT_LT(ch, c);
    got[size_t(i)] = x[size_t(i)] * scale[size_t(ch)] + shift[size_t(ch)];
  }
  expect_close(ref, got, kExact, kExact);
  EXPECT_EQ(channel_affine_channel(0, 1, 1), 0);
  EXPECT_EQ(channel_affine_channel(6, 5, 1), 1);
  EXPECT_EQ(channel_affine_channel(14, 2, 7), 0);
}

// Every precision launches the same geometry; the kernel name carries the storage type.
TEST(ElementwiseLaunch, PrecisionNamesTheStorageType) {
  const std::pair<Precision, std::string> cases[] = {
      {Precision::F32, "float"}, {Precision::F16, "__half"}, {Precision::BF16, "__nv_bfloat16"}};
  for (const auto& [p, type] : cases) {
    SCOPED_TRACE(precision_name(p));
    const LaunchGeometry u = unary_launch(1000, p);
    EXPECT_EQ(u.kernel, "unary<" + type + ">");
    EXPECT_EQ(u.grid.x, unary_launch(1000).grid.x);
    EXPECT_EQ(u.block.x, 256u);
    EXPECT_EQ(binary_launch({2, 3}, {2, 3}, {2, 3}, p).kernel, "binary_same_shape<" + type + ">");
    EXPECT_EQ(binary_launch({2, 3}, {3}, {2, 3}, p).kernel, "binary_broadcast<" + type + ">");
    EXPECT_EQ(channel_affine_launch(2, 3, 100, p).kernel, "channel_affine<" + type + ">");
    EXPECT_EQ(channel_affine_launch(2, 3, 100, p).grid.x, 3u);
    EXPECT_EQ(unary_launch(0, p).grid.x, 0u);
  }
}

}  // namespace
}  // namespace dstack::kernels
