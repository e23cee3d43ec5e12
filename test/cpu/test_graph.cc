#include <gtest/gtest.h>

#include <stdexcept>

#include "models/graph.h"

namespace dstack::models {
namespace {

Attrs conv_attrs(int k, int pad) {
  Attrs a;
  a.kernel_h = a.kernel_w = k;
  a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = pad;
  return a;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const GraphError& e) {
    return e.what();
  }
  return "no error";
}

// Found by fuzzing the ONNX importer: a model's dims whose product passes int64 (undefined behaviour).
TEST(Graph, ElementCountsPastTheBoundAreRefused) {
  EXPECT_EQ(num_elements({3, 4, 5}), 60);
  EXPECT_EQ(num_elements({}), 1);
  EXPECT_EQ(num_elements({-1, 8}), -8);  // a Reshape target's placeholder
  EXPECT_EQ(num_elements({int64_t{1} << 24, int64_t{1} << 24}), kMaxElements);
  EXPECT_THROW(num_elements({int64_t{1} << 24, (int64_t{1} << 24) + 1}), std::invalid_argument);
  EXPECT_THROW(num_elements({7349874591868649471, 2}), std::invalid_argument);
}

TEST(Graph, ConvOutputShapeIsInferredPerSample) {
  Graph g("t");
  int x = g.add_input("x", {3, 8, 8});
  int w = g.add_constant("w", {4, 3, 3, 3}, std::vector<float>(108, 0.f));
  int y = g.add_node("conv", OpKind::Conv2d, {x, w}, conv_attrs(3, 1));
  EXPECT_EQ(g.value(y).shape, (Shape{4, 8, 8}));
  EXPECT_EQ(full_shape(g.value(y), 5), (Shape{5, 4, 8, 8}));
  EXPECT_EQ(full_shape(g.value(w), 5), (Shape{4, 3, 3, 3}));
}

TEST(Graph, ChannelMismatchNamesNodeAndShapes) {
  Graph g("t");
  int x = g.add_input("x", {3, 8, 8});
  int w = g.add_constant("w", {4, 2, 3, 3}, std::vector<float>(72, 0.f));
  std::string e = error_of([&] { g.add_node("conv1", OpKind::Conv2d, {x, w}, conv_attrs(3, 1)); });
  EXPECT_NE(e.find("node 'conv1' (Conv2d)"), std::string::npos) << e;
  EXPECT_NE(e.find("expects 2 input channels"), std::string::npos) << e;
}

TEST(Graph, ConstantThatBroadcastsOverTheBatchIsRefused) {
  Graph g("t");
  int x = g.add_input("x", {4});
  int c = g.add_constant("c", {2, 4}, std::vector<float>(8, 1.f));
  Attrs a;
  a.binary = BinaryOp::Add;
  std::string e = error_of([&] { g.add_node("add", OpKind::Binary, {x, c}, a); });
  EXPECT_NE(e.find("batch"), std::string::npos) << e;
}

TEST(Graph, TransposeMayNotMoveTheBatch) {
  Graph g("t");
  int x = g.add_input("x", {2, 3});
  Attrs a;
  a.perm = {1, 0, 2};
  EXPECT_NE(error_of([&] { g.add_node("t", OpKind::Transpose, {x}, a); }).find("batch axis"), std::string::npos);
  a.perm = {0, 2, 1};
  EXPECT_EQ(g.value(g.add_node("t2", OpKind::Transpose, {x}, a)).shape, (Shape{3, 2}));
}

TEST(Graph, ReshapeMustKeepTheElementCount) {
  Graph g("t");
  int x = g.add_input("x", {2, 3});
  Attrs a;
  a.shape = {7};
  EXPECT_NE(error_of([&] { g.add_node("r", OpKind::Reshape, {x}, a); }).find("cannot reshape [1, 2, 3] to [1, 7]"),
            std::string::npos);
}

TEST(Graph, AllConstantNodeAndBadConstantAreRefused) {
  Graph g("t");
  int c = g.add_constant("c", {2}, {1.f, 2.f});
  EXPECT_NE(error_of([&] { g.add_node("u", OpKind::Unary, {c}); }).find("every input is a constant"), std::string::npos);
  EXPECT_NE(error_of([&] { g.add_constant("bad", {3}, {1.f}); }).find("has 1 values"), std::string::npos);
}

TEST(Graph, MatMulBroadcastsLeadingDims) {
  Graph g("t");
  int a = g.add_input("a", {12, 128, 64});
  int b = g.add_constant("b", {64, 32}, std::vector<float>(64 * 32, 0.f));
  EXPECT_EQ(g.value(g.add_node("mm", OpKind::MatMul, {a, b})).shape, (Shape{12, 128, 32}));
  int c = g.add_input("c", {12, 64, 128});
  EXPECT_EQ(g.value(g.add_node("mm2", OpKind::MatMul, {a, c})).shape, (Shape{12, 128, 128}));
}

TEST(Graph, PoolingFollowsOnnxCeilMode) {
  Graph g("t");
  int x = g.add_input("x", {1, 5, 5});
  Attrs a;
  a.kernel_h = a.kernel_w = 2;
  a.stride_h = a.stride_w = 2;
  a.ceil_mode = true;
  EXPECT_EQ(g.value(g.add_node("p", OpKind::MaxPool, {x}, a)).shape, (Shape{1, 3, 3}));
  a.ceil_mode = false;
  EXPECT_EQ(g.value(g.add_node("p2", OpKind::MaxPool, {x}, a)).shape, (Shape{1, 2, 2}));
}

}  // namespace
}  // namespace dstack::models
