// The vendor backend's coverage decision and descriptor parameters (vendor_coverage.h), on the CPU:
// which nodes cuDNN/cuBLAS compute exactly as dstack defines them, and that the parameters handed to
// cuDNN reproduce dstack's semantics where the decision says they do.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/elementwise.h"
#include "kernels/pooling.h"
#include "models/zoo.h"
#include "runtime/backend/cuda/vendor_coverage.h"
#include "test/kernels/test_data.h"

namespace dstack::vendor {
namespace {

using kernels::Activation;
using kernels::ActivationParams;
using models::Shape;

TEST(VendorActivation, MapsWhatCudnnHasAndRefusesTheRest) {
  EXPECT_EQ(vendor_activation({Activation::None})->mode, ActivationMode::Identity);
  EXPECT_EQ(vendor_activation({Activation::Relu})->mode, ActivationMode::Relu);
  const auto relu6 = vendor_activation({Activation::Relu6});
  ASSERT_TRUE(relu6);
  EXPECT_EQ(relu6->mode, ActivationMode::ClippedRelu);
  EXPECT_EQ(relu6->coef, 6.0);
  const auto clip = vendor_activation({Activation::Clip, 0.f, 2.5f});
  ASSERT_TRUE(clip);
  EXPECT_EQ(clip->coef, 2.5);
  EXPECT_FALSE(vendor_activation({Activation::Clip, -1.f, 1.f})) << "cuDNN's clipped ReLU floors at 0";
  const auto silu = vendor_activation({Activation::Silu});
  ASSERT_TRUE(silu);
  EXPECT_EQ(silu->mode, ActivationMode::Swish);
  EXPECT_EQ(silu->swish_beta, 1.0);
  EXPECT_EQ(vendor_activation({Activation::Sigmoid})->mode, ActivationMode::Sigmoid);
  EXPECT_EQ(vendor_activation({Activation::Tanh})->mode, ActivationMode::Tanh);
  EXPECT_FALSE(vendor_activation({Activation::Gelu})) << "no exact GELU in cuDNN's legacy API";
}

kernels::Conv2dShape conv(int n, int c, int h, int w, int k, int r, int s) {
  kernels::Conv2dShape x;
  x.n = n, x.c = c, x.h = h, x.w = w, x.k = k, x.r = r, x.s = s;
  return x;
}

TEST(VendorConvParams, GroupedDilatedStridedShape) {
  kernels::Conv2dShape s = conv(2, 8, 17, 13, 12, 3, 5);
  s.groups = 4, s.stride_h = 2, s.stride_w = 1, s.dilation_h = 2, s.dilation_w = 1;
  s.pad_top = s.pad_bottom = 2, s.pad_left = s.pad_right = 1;
  std::string why;
  const auto p = vendor_conv_params(s, &why);
  ASSERT_TRUE(p) << why;
  EXPECT_EQ(p->x, (std::array<int, 4>{2, 8, 17, 13}));
  EXPECT_EQ(p->w, (std::array<int, 4>{12, 2, 3, 5})) << "filters hold c / groups channels";
  EXPECT_EQ(p->y, (std::array<int, 4>{2, 12, s.out_h(), s.out_w()}));
  EXPECT_EQ(p->groups, 4);
  EXPECT_EQ(p->pad_h, 2);
  EXPECT_EQ(p->pad_w, 1);
  EXPECT_EQ(p->stride_h, 2);
  EXPECT_EQ(p->dilation_h, 2);
  // cuDNN's output size formula gives dstack's.
  EXPECT_EQ((p->x[2] + 2 * p->pad_h - p->dilation_h * (p->w[2] - 1) - 1) / p->stride_h + 1, p->y[2]);
  EXPECT_EQ((p->x[3] + 2 * p->pad_w - p->dilation_w * (p->w[3] - 1) - 1) / p->stride_w + 1, p->y[3]);
}

TEST(VendorConvParams, AsymmetricPaddingIsNotCovered) {
  kernels::Conv2dShape s = conv(1, 3, 10, 10, 4, 3, 3);
  s.pad_top = 0, s.pad_bottom = 1, s.pad_left = 1, s.pad_right = 1;
  std::string why;
  EXPECT_FALSE(vendor_conv_params(s, &why));
  EXPECT_NE(why.find("symmetrically"), std::string::npos) << why;
}

kernels::Pool2dShape pool(int h, int w, int k, int stride, int pad, bool ceil_mode, bool include_pad) {
  kernels::Pool2dShape p;
  p.n = 2, p.c = 3, p.h = h, p.w = w;
  p.kernel_h = p.kernel_w = k;
  p.stride_h = p.stride_w = stride;
  p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = pad;
  p.ceil_mode = ceil_mode;
  p.count_include_pad = include_pad;
  return p;
}

TEST(VendorPoolParams, ResNetMaxPoolIsCovered) {
  const auto p = vendor_pool_params(pool(112, 112, 3, 2, 1, false, false), true, nullptr);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->mode, PoolMode::Max);
  EXPECT_EQ(p->y, (std::array<int, 4>{2, 3, 56, 56}));
}

TEST(VendorPoolParams, CeilModeThatAddsAWindowIsNotCovered) {
  // 8 with window 3, stride 2: floor gives 3 outputs, ceil 4 (the last window hangs past the input).
  std::string why;
  EXPECT_FALSE(vendor_pool_params(pool(8, 8, 3, 2, 0, true, false), true, &why));
  EXPECT_NE(why.find("ceil_mode"), std::string::npos) << why;
  // 7 with window 3, stride 2: both give 3, so ceil mode changes nothing and cuDNN covers it.
  EXPECT_TRUE(vendor_pool_params(pool(7, 7, 3, 2, 0, true, false), true, nullptr));
}

TEST(VendorPoolParams, AverageModeFollowsCountIncludePad) {
  EXPECT_EQ(vendor_pool_params(pool(35, 35, 3, 1, 1, false, true), false, nullptr)->mode, PoolMode::AverageIncludePad);
  EXPECT_EQ(vendor_pool_params(pool(35, 35, 3, 1, 1, false, false), false, nullptr)->mode, PoolMode::AverageExcludePad);
}

// The reason the average modes agree: wherever the decision says "covered", every window's extent
// clipped to the padded input is the whole window (cuDNN's INCLUDE_PADDING divisor), checked here with
// the same window function dstack's kernels use.
TEST(VendorPoolParams, CoveredWindowsNeverReachPastThePadding) {
  int covered = 0;
  for (int in = 1; in <= 12; ++in)
    for (int k = 1; k <= 4; ++k)
      for (int stride = 1; stride <= 3; ++stride)
        for (int pad = 0; pad < k; ++pad)
          for (bool ceil_mode : {false, true}) {
            const kernels::Pool2dShape s = pool(in, in, k, stride, pad, ceil_mode, true);
            if (kernels::pool2d_shape_error(s)) continue;
            if (!vendor_pool_params(s, false, nullptr)) continue;
            ++covered;
            for (int o = 0; o < s.out_h(); ++o) {
              const kernels::Pool2dWindow w = kernels::pool2d_window(o, in, k, stride, pad, pad);
              ASSERT_EQ(w.padded_end - w.padded_begin, k)
                  << "in " << in << " k " << k << " stride " << stride << " pad " << pad << " ceil " << ceil_mode
                  << " window " << o;
            }
          }
  EXPECT_GT(covered, 100);
}

// cudnnOpTensor as its documentation defines it: C = op(alpha1 * A, alpha2 * B), B broadcast over
// dims of size 1 (rank 4).
std::vector<float> op_tensor(const BinaryParams& p, const std::vector<float>& a, const std::vector<float>& b) {
  const std::vector<int64_t> c_shape(p.c.begin(), p.c.end()), b_shape(p.b.begin(), p.b.end());
  std::vector<float> c(static_cast<size_t>(kernels::ktest::element_count(c_shape)));
  for (size_t i = 0; i < c.size(); ++i) {
    std::vector<int64_t> idx = kernels::ktest::unravel(int64_t(i), c_shape);
    for (size_t d = 0; d < idx.size(); ++d)
      if (b_shape[d] == 1) idx[d] = 0;
    const float x = p.alpha1 * a[i], y = p.alpha2 * b[size_t(kernels::ktest::ravel(idx, b_shape))];
    c[i] = p.op == TensorOp::Mul ? x * y : x + y;
  }
  return c;
}

void expect_op_tensor_matches_reference(kernels::BinaryOp op, const Shape& a_shape, const Shape& b_shape) {
  Shape out;
  ASSERT_TRUE(kernels::broadcast_shape(a_shape, b_shape, out));
  std::string why;
  const auto p = vendor_binary_params(op, a_shape, b_shape, out, &why);
  ASSERT_TRUE(p) << why;
  const auto a = kernels::ktest::random_vector(models::num_elements(a_shape), 1);
  const auto b = kernels::ktest::random_vector(models::num_elements(b_shape), 2);
  std::vector<float> ref(static_cast<size_t>(models::num_elements(out)));
  kernels::binary_ref(op, a_shape, a.data(), b_shape, b.data(), out, ref.data());
  const std::vector<float> got = p->swap ? op_tensor(*p, b, a) : op_tensor(*p, a, b);
  ASSERT_EQ(got.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i)
    ASSERT_NEAR(got[i], ref[i], 1e-6f * (1.f + std::fabs(ref[i]))) << kernels::binary_op_name(op) << " at " << i;
}

TEST(VendorBinaryParams, SameShapeAndOneSidedBroadcastReproduceTheReference) {
  for (kernels::BinaryOp op : {kernels::BinaryOp::Add, kernels::BinaryOp::Sub, kernels::BinaryOp::Mul}) {
    SCOPED_TRACE(std::string(kernels::binary_op_name(op)));
    expect_op_tensor_matches_reference(op, {2, 5, 7}, {2, 5, 7});
    expect_op_tensor_matches_reference(op, {3, 4, 6}, {4, 6});        // BERT's learned position embeddings
    expect_op_tensor_matches_reference(op, {4, 6}, {3, 4, 6});        // the first operand broadcasts: swapped
    expect_op_tensor_matches_reference(op, {2, 3, 4, 5}, {1, 3, 1, 1});
    expect_op_tensor_matches_reference(op, {2, 1, 4, 1, 3}, {2, 5, 4, 2, 3});  // rank 5
  }
}

TEST(VendorBinaryParams, PadsToRankFourAndSwapsSubtraction) {
  const auto p = vendor_binary_params(kernels::BinaryOp::Sub, {7}, {2, 7}, {2, 7}, nullptr);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->swap);
  EXPECT_EQ(p->alpha1, -1.f);
  EXPECT_EQ(p->alpha2, 1.f);
  EXPECT_EQ(p->a, (std::vector<int>{2, 7, 1, 1}));
  EXPECT_EQ(p->b, (std::vector<int>{1, 7, 1, 1}));
}

TEST(VendorBinaryParams, RefusesWhatOpTensorCannotDo) {
  std::string why;
  EXPECT_FALSE(vendor_binary_params(kernels::BinaryOp::Add, {1, 3}, {4, 1}, {4, 3}, &why));
  EXPECT_NE(why.find("one operand"), std::string::npos) << why;
  EXPECT_FALSE(vendor_binary_params(kernels::BinaryOp::Div, {2, 3}, {2, 3}, {2, 3}, &why));
  EXPECT_NE(why.find("div"), std::string::npos) << why;
  EXPECT_FALSE(vendor_binary_params(kernels::BinaryOp::Add, {1, 1, 1, 1, 1, 2}, {1, 1, 1, 1, 1, 2},
                                    {1, 1, 1, 1, 1, 2}, &why))
      << "rank 6";
}

// Every node of a zoo model at batch 2, with its full shapes: the decision and its reason.
struct NodeDecision {
  std::string name;
  models::OpKind op;
  std::string gap;
};

std::vector<NodeDecision> decide(const std::string& model) {
  models::BuildOptions options;
  options.weights = false;
  const models::Model m = models::build_zoo_model(model, options);
  const models::Graph& g = m.graph;
  std::vector<Shape> full(g.values().size());
  for (size_t i = 0; i < g.values().size(); ++i) full[i] = models::full_shape(g.values()[i], 2);
  std::vector<NodeDecision> out;
  for (const models::Node& n : g.nodes()) {
    std::vector<Shape> in;
    for (int id : n.inputs) in.push_back(full[size_t(id)]);
    const Shape y = models::infer_output_shape(g, n, in);
    full[size_t(n.output)] = y;
    out.push_back({n.name, n.op, vendor_gap(n, in, y)});
  }
  return out;
}

TEST(VendorCoverage, ResNet50RunsEntirelyOnTheVendor) {
  for (const NodeDecision& d : decide("resnet50")) {
    if (d.op != models::OpKind::Reshape) {
      EXPECT_EQ(d.gap, "") << d.name;
    }
  }
}

TEST(VendorCoverage, MobileNetV2ConvolutionsAreCovered) {
  int convs = 0;
  for (const NodeDecision& d : decide("mobilenet_v2"))
    if (d.op == models::OpKind::Conv2d) {
      ++convs;
      EXPECT_EQ(d.gap, "") << d.name;  // ReLU6 is cuDNN's clipped ReLU; depthwise is groups == channels
    }
  EXPECT_GT(convs, 50);
}

TEST(VendorCoverage, BertLeavesGeluLayerNormAndDataMovementToDstack) {
  int gelu = 0, layer_norm = 0, covered = 0;
  for (const NodeDecision& d : decide("bert_base")) {
    if (d.gap.empty()) {
      ++covered;
      continue;
    }
    if (d.gap.find("GELU") != std::string::npos) ++gelu;
    if (d.op == models::OpKind::LayerNorm) ++layer_norm;
  }
  EXPECT_EQ(gelu, 12) << "one intermediate dense layer per encoder layer";
  EXPECT_GT(layer_norm, 12);
  EXPECT_GT(covered, 12 * 8) << "projections, attention matmuls, softmax and residual adds";
}

TEST(VendorCoverage, EveryZooNodeIsDecidedWithAReason) {
  for (const models::ZooEntry& e : models::zoo()) {
    SCOPED_TRACE(e.name);
    for (const NodeDecision& d : decide(e.name)) {
      if (d.op == models::OpKind::Reshape || d.op == models::OpKind::Concat) {
        EXPECT_NE(d.gap, "") << d.name;
      }
      // A refusal always explains itself (vendor_gap's text is what a user sees).
      if (!d.gap.empty()) {
        EXPECT_GT(d.gap.size(), 10u) << d.name;
      }
    }
  }
}

}  // namespace
}  // namespace dstack::vendor
