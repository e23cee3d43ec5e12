// launch_vendor (cuDNN / cuBLAS) against the CPU executor, op by op, on seeded random inputs and odd
// shapes: each case is a one-node graph, run by run_cpu for the reference and by launch_vendor on the
// GPU. Nodes the vendor does not cover must return false and leave the output untouched; over the
// whole zoo, launch_vendor must agree with vendor_covers and write every element when it runs.
//
// Tolerances (|got - ref| <= atol + rtol |ref|, outputs O(1) by construction):
//   convolution  atol 1e-4, rtol 1e-3: cuDNN may pick Winograd or FFT (fp32 FMA math, no TF32), whose
//                input/output transforms cost a few bits more than a direct sum over K <= 576;
//   GEMM/matmul  atol 1e-5, rtol 1e-4: the same products summed in another order (kGemm*);
//   activations, softmax, means  atol 1e-5, rtol 1e-5: cuDNN's exp/tanh may be a few ulp from libm;
//   pooling max and data-exact ops (add, mul, neg) 1e-6 / 1e-6.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "models/graph.h"
#include "models/node_args.h"
#include "models/zoo.h"
#include "runtime/backend/cpu/cpu_executor.h"
#include "runtime/backend/cuda/resources.h"
#include "runtime/backend/cuda/vendor_coverage.h"
#include "runtime/backend/cuda/vendor_ops.h"
#include "test/gpu/device_data.h"
#include "test/gpu/gpu_test_env.h"
#include "test/kernels/test_data.h"
#include "test/kernels/tolerance.h"

namespace dstack::vendor {
namespace {

using kernels::Activation;
using kernels::ActivationParams;
using kernels::ktest::all_close;
using kernels::ktest::random_vector;
using models::Attrs;
using models::Graph;
using models::OpKind;
using models::Shape;
using models::TensorView;

constexpr int64_t kBatch = 2;

// A graph of one node under construction: activation inputs (batch kBatch) and constants.
struct OneNode {
  Graph g{"one_node"};
  std::vector<models::Tensor> feeds;  // one per graph input, batch first
  uint32_t seed = 1;

  // per_sample: the shape without the batch; values in [lo, hi).
  int input(Shape per_sample, float lo = -1.f, float hi = 1.f) {
    const int id = g.add_input(fmt_name("x"), per_sample);
    Shape full{kBatch};
    full.insert(full.end(), per_sample.begin(), per_sample.end());
    feeds.push_back({full, random_vector(models::num_elements(full), seed++, lo, hi)});
    return id;
  }
  // scale multiplies the values (1/sqrt(K) for weights keeps outputs O(1)).
  int constant(Shape shape, float scale = 1.f) {
    std::vector<float> data = random_vector(models::num_elements(shape), seed++);
    for (float& v : data) v *= scale;
    return g.add_constant(fmt_name("c"), shape, std::move(data));
  }
  int node(OpKind op, std::vector<int> inputs, Attrs attrs = {}) {
    const int y = g.add_node("node", op, std::move(inputs), std::move(attrs));
    g.mark_output(y);
    return y;
  }
  std::string fmt_name(const char* prefix) { return prefix + std::to_string(g.values().size()); }
};

struct Outcome {
  bool covered = false;
  std::vector<float> ref, got;
  bool untouched = false;  // every output word still holds the poison pattern
};

Outcome run_both(const OneNode& c) {
  const Graph& g = c.g;
  const models::Node& n = g.nodes().back();
  Outcome o;
  o.ref = run_cpu(g, c.feeds).at(0).data;

  cuda::Stream stream;
  std::vector<cuda::DeviceBuffer> buffers;
  std::vector<TensorView> views;
  for (int id : n.inputs) {
    const models::Value& v = g.value(id);
    if (v.constant) {
      buffers.push_back(test::upload(*v.data));
      views.push_back({v.shape, buffers.back().as<float>()});
    } else {
      size_t feed = 0;
      while (g.inputs()[feed] != id) ++feed;
      buffers.push_back(test::upload(c.feeds[feed].data));
      views.push_back({c.feeds[feed].shape, buffers.back().as<float>()});
    }
  }
  std::vector<Shape> shapes;
  for (const TensorView& v : views) shapes.push_back(v.shape);
  const Shape out_shape = models::infer_output_shape(g, n, shapes);
  const size_t count = static_cast<size_t>(models::num_elements(out_shape));
  const cuda::DeviceBuffer y = test::poisoned(count);
  VendorContext ctx(stream.get());
  o.covered = launch_vendor(n, views, out_shape, y.as<float>(), ctx, stream.get());
  stream.synchronize();
  o.got = test::download(y, count);
  o.untouched = true;
  for (float v : o.got) {
    uint32_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    o.untouched = o.untouched && bits == 0xFFFFFFFFu;
  }
  EXPECT_EQ(o.covered, vendor_covers(n, shapes, out_shape)) << "launch_vendor and vendor_covers disagree";
  return o;
}

void expect_matches(const OneNode& c, float atol, float rtol) {
  const Outcome o = run_both(c);
  ASSERT_TRUE(o.covered) << "expected the vendor to cover this node";
  EXPECT_TRUE(all_close(o.ref, o.got, atol, rtol));
}

void expect_not_covered(const OneNode& c) {
  const Outcome o = run_both(c);
  EXPECT_FALSE(o.covered);
  EXPECT_TRUE(o.untouched) << "a refused node must leave the output as it was";
}

// ---- convolution

struct ConvCase {
  int c, h, w, k, r, s;
  int stride_h = 1, stride_w = 1, pad_t = 0, pad_l = 0, pad_b = 0, pad_r = 0, dil_h = 1, dil_w = 1, groups = 1;
  bool bias = true, residual = false;
  ActivationParams act{};
};

OneNode conv_graph(const ConvCase& k) {
  OneNode c;
  const int x = c.input({k.c, k.h, k.w});
  const int cpg = k.c / k.groups;
  const int w = c.constant({k.k, cpg, k.r, k.s}, 1.f / std::sqrt(float(cpg * k.r * k.s)));
  Attrs a;
  a.kernel_h = k.r, a.kernel_w = k.s;
  a.stride_h = k.stride_h, a.stride_w = k.stride_w;
  a.pad_top = k.pad_t, a.pad_left = k.pad_l, a.pad_bottom = k.pad_b, a.pad_right = k.pad_r;
  a.dilation_h = k.dil_h, a.dilation_w = k.dil_w;
  a.groups = k.groups;
  a.act = k.act;
  std::vector<int> in{x, w};
  if (k.bias || k.residual) in.push_back(c.constant({k.k}));
  if (k.residual) {
    kernels::Conv2dShape s;
    s.h = k.h, s.w = k.w, s.r = k.r, s.s = k.s, s.stride_h = k.stride_h, s.stride_w = k.stride_w;
    s.pad_top = k.pad_t, s.pad_left = k.pad_l, s.pad_bottom = k.pad_b, s.pad_right = k.pad_r;
    s.dilation_h = k.dil_h, s.dilation_w = k.dil_w;
    in.push_back(c.input({k.k, s.out_h(), s.out_w()}));
  }
  c.node(OpKind::Conv2d, in, a);
  return c;
}

constexpr float kConvAtol = 1e-4f, kConvRtol = 1e-3f;

TEST(VendorConv, PlainBiasRelu) {
  DSTACK_REQUIRE_GPU();
  ConvCase k{5, 11, 9, 7, 3, 3};
  k.pad_t = k.pad_b = k.pad_l = k.pad_r = 1;
  k.act = {Activation::Relu};
  expect_matches(conv_graph(k), kConvAtol, kConvRtol);  // the fused conv + bias + ReLU path
}

TEST(VendorConv, StridedDilatedWithResidualAndRelu) {
  DSTACK_REQUIRE_GPU();
  ConvCase k{6, 17, 13, 10, 3, 5};
  k.stride_h = 2, k.stride_w = 1, k.dil_h = 2, k.dil_w = 1;
  k.pad_t = k.pad_b = 2, k.pad_l = k.pad_r = 2;
  k.residual = true;
  k.act = {Activation::Relu};
  expect_matches(conv_graph(k), kConvAtol, kConvRtol);
}

TEST(VendorConv, ResidualWithoutActivation) {
  DSTACK_REQUIRE_GPU();
  ConvCase k{8, 9, 9, 16, 1, 1};
  k.residual = true;
  expect_matches(conv_graph(k), kConvAtol, kConvRtol);
}

TEST(VendorConv, GroupedSigmoidWithoutBias) {
  DSTACK_REQUIRE_GPU();
  ConvCase k{8, 10, 7, 12, 3, 2};
  k.groups = 4, k.bias = false, k.pad_t = k.pad_b = 1;
  k.act = {Activation::Sigmoid};
  expect_matches(conv_graph(k), kConvAtol, kConvRtol);
}

TEST(VendorConv, DepthwiseStridedRelu6) {
  DSTACK_REQUIRE_GPU();
  ConvCase k{6, 15, 15, 6, 3, 3};
  k.groups = 6, k.stride_h = k.stride_w = 2, k.pad_t = k.pad_b = k.pad_l = k.pad_r = 1;
  k.act = {Activation::Relu6};
  expect_matches(conv_graph(k), kConvAtol, kConvRtol);
}

TEST(VendorConv, SiluTanhAndClip) {
  DSTACK_REQUIRE_GPU();
  for (ActivationParams act : {ActivationParams{Activation::Silu}, ActivationParams{Activation::Tanh},
                               ActivationParams{Activation::Clip, 0.f, 0.5f}}) {
    SCOPED_TRACE(std::string(kernels::activation_name(act.kind)));
    ConvCase k{3, 8, 12, 5, 3, 3};
    k.pad_l = k.pad_r = 1;
    k.act = act;
    expect_matches(conv_graph(k), kConvAtol, kConvRtol);
  }
}

TEST(VendorConv, ResNetStemShape) {
  DSTACK_REQUIRE_GPU();
  ConvCase k{3, 64, 64, 64, 7, 7};
  k.stride_h = k.stride_w = 2, k.pad_t = k.pad_b = k.pad_l = k.pad_r = 3;
  k.act = {Activation::Relu};
  expect_matches(conv_graph(k), kConvAtol, kConvRtol);
}

TEST(VendorConv, AsymmetricPaddingAndGeluAreRefusedUntouched) {
  DSTACK_REQUIRE_GPU();
  ConvCase asym{4, 9, 9, 4, 3, 3};
  asym.pad_t = 0, asym.pad_b = 1, asym.pad_l = 1, asym.pad_r = 1;
  expect_not_covered(conv_graph(asym));
  ConvCase gelu{4, 9, 9, 4, 3, 3};
  gelu.act = {Activation::Gelu};
  expect_not_covered(conv_graph(gelu));
}

// ---- GEMM family

constexpr float kGemmAtol = kernels::ktest::kGemmAtol, kGemmRtol = kernels::ktest::kGemmRtol;

OneNode linear_graph(Shape x_per_sample, int nout, bool bias, ActivationParams act) {
  OneNode c;
  const int k = static_cast<int>(x_per_sample.back());
  const int x = c.input(x_per_sample);
  std::vector<int> in{x, c.constant({nout, k}, 1.f / std::sqrt(float(k)))};
  if (bias) in.push_back(c.constant({nout}));
  Attrs a;
  a.act = act;
  c.node(OpKind::Linear, in, a);
  return c;
}

TEST(VendorGemm, LinearWithBiasAndActivations) {
  DSTACK_REQUIRE_GPU();
  expect_matches(linear_graph({5, 37}, 19, true, {Activation::Relu}), kGemmAtol, kGemmRtol);
  expect_matches(linear_graph({37}, 19, true, {Activation::Tanh}), 1e-5f, 1e-4f);
  expect_matches(linear_graph({3, 4, 64}, 33, false, {}), kGemmAtol, kGemmRtol);
  expect_not_covered(linear_graph({5, 16}, 8, true, {Activation::Gelu}));
}

TEST(VendorGemm, BatchedMatMulUniform) {
  DSTACK_REQUIRE_GPU();
  OneNode c;
  const int a = c.input({3, 17, 9}), b = c.input({3, 9, 13});
  Attrs at;
  at.alpha = 0.125f;
  c.node(OpKind::MatMul, {a, b}, at);
  expect_matches(c, kGemmAtol, kGemmRtol);
}

TEST(VendorGemm, MatMulWithBroadcastConstant) {
  DSTACK_REQUIRE_GPU();
  OneNode c;
  const int a = c.input({4, 6, 11});
  c.node(OpKind::MatMul, {a, c.constant({11, 7})});  // stride 0 for b
  expect_matches(c, kGemmAtol, kGemmRtol);
}

TEST(VendorGemm, MatMulWithNonUniformBroadcast) {
  DSTACK_REQUIRE_GPU();
  OneNode c;
  const int a = c.input({1, 5, 4});
  c.node(OpKind::MatMul, {a, c.constant({1, 3, 4, 6})});  // -> [2, 3, 5, 6]: one GEMM per output matrix
  expect_matches(c, kGemmAtol, kGemmRtol);
}

// ---- elementwise

constexpr float kMathAtol = 1e-5f, kMathRtol = 1e-5f;
constexpr float kExactAtol = 1e-6f, kExactRtol = 1e-6f;

TEST(VendorElementwise, ChannelAffineWithActivation) {
  DSTACK_REQUIRE_GPU();
  OneNode c;
  const int x = c.input({6, 5, 7});
  Attrs a;
  a.act = {Activation::Relu6};
  c.node(OpKind::ChannelAffine, {x, c.constant({6}), c.constant({6})}, a);
  expect_matches(c, kMathAtol, kMathRtol);
}

OneNode unary_graph(kernels::UnaryOp op, ActivationParams act, float lo = -3.f, float hi = 3.f) {
  OneNode c;
  const int x = c.input({7, 33}, lo, hi);
  Attrs a;
  a.unary = op;
  a.act = act;
  c.node(OpKind::Unary, {x}, a);
  return c;
}

TEST(VendorElementwise, UnaryOps) {
  DSTACK_REQUIRE_GPU();
  using kernels::UnaryOp;
  for (Activation act : {Activation::None, Activation::Relu, Activation::Relu6, Activation::Sigmoid, Activation::Silu,
                         Activation::Tanh}) {
    SCOPED_TRACE(std::string(kernels::activation_name(act)));
    expect_matches(unary_graph(UnaryOp::Activation, {act}), kMathAtol, kMathRtol);
  }
  expect_matches(unary_graph(UnaryOp::Sqrt, {}, 0.01f, 4.f), kMathAtol, kMathRtol);
  expect_matches(unary_graph(UnaryOp::Neg, {}), kExactAtol, kExactRtol);
  expect_not_covered(unary_graph(UnaryOp::Exp, {}));
  expect_not_covered(unary_graph(UnaryOp::Activation, {Activation::Gelu}));
}

// b is a constant (full shape) or, with b_is_input, a second activation (per-sample shape).
OneNode binary_graph(kernels::BinaryOp op, Shape a_per_sample, Shape b, bool b_is_input = false) {
  OneNode c;
  const int a = c.input(a_per_sample);
  const int bid = b_is_input ? c.input(b) : c.constant(b);
  Attrs at;
  at.binary = op;
  c.node(OpKind::Binary, {a, bid}, at);
  return c;
}

TEST(VendorElementwise, BinaryOpsWithBroadcast) {
  DSTACK_REQUIRE_GPU();
  using kernels::BinaryOp;
  for (BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul}) {
    SCOPED_TRACE(std::string(kernels::binary_op_name(op)));
    expect_matches(binary_graph(op, {5, 9}, {5, 9}), kExactAtol, kExactRtol);        // b broadcast over the batch
    expect_matches(binary_graph(op, {1, 9}, {4, 9}, true), kExactAtol, kExactRtol);  // a broadcast: swapped
    expect_matches(binary_graph(op, {3, 4, 5}, {3, 1, 1}), kExactAtol, kExactRtol);  // per channel
  }
  // Two activations of the same shape (a residual add).
  OneNode c;
  const int a = c.input({6, 7}), b = c.input({6, 7});
  c.node(OpKind::Binary, {a, b});
  expect_matches(c, kExactAtol, kExactRtol);
  expect_not_covered(binary_graph(BinaryOp::Div, {5, 9}, {5, 9}));
  expect_not_covered(binary_graph(BinaryOp::Add, {1, 9}, {4, 1}));  // both broadcast
}

// ---- pooling, reductions, softmax

OneNode pool_graph(OpKind op, Shape per_sample, int k, int stride, int pad, bool ceil_mode, bool include_pad) {
  OneNode c;
  const int x = c.input(per_sample);
  Attrs a;
  a.kernel_h = a.kernel_w = k;
  a.stride_h = a.stride_w = stride;
  a.pad_top = a.pad_bottom = a.pad_left = a.pad_right = pad;
  a.ceil_mode = ceil_mode;
  a.count_include_pad = include_pad;
  c.node(op, {x}, a);
  return c;
}

TEST(VendorPooling, MaxPool) {
  DSTACK_REQUIRE_GPU();
  expect_matches(pool_graph(OpKind::MaxPool, {4, 13, 11}, 3, 2, 1, false, false), kExactAtol, kExactRtol);
  expect_matches(pool_graph(OpKind::MaxPool, {3, 7, 7}, 3, 2, 0, true, false), kExactAtol, kExactRtol);
  expect_not_covered(pool_graph(OpKind::MaxPool, {3, 8, 8}, 3, 2, 0, true, false));  // ceil adds a window
}

TEST(VendorPooling, AvgPoolBothPaddingCounts) {
  DSTACK_REQUIRE_GPU();
  expect_matches(pool_graph(OpKind::AvgPool, {5, 9, 10}, 3, 1, 1, false, true), kMathAtol, kMathRtol);
  expect_matches(pool_graph(OpKind::AvgPool, {5, 9, 10}, 3, 2, 1, false, false), kMathAtol, kMathRtol);
}

TEST(VendorPooling, GlobalAvgPoolAndReduceMean) {
  DSTACK_REQUIRE_GPU();
  {
    OneNode c;
    c.node(OpKind::GlobalAvgPool, {c.input({5, 7, 9})});
    expect_matches(c, kMathAtol, kMathRtol);
  }
  {
    OneNode c;
    Attrs a;
    a.axes = {2};
    a.keepdims = true;
    c.node(OpKind::ReduceMean, {c.input({4, 6, 5})}, a);
    expect_matches(c, kMathAtol, kMathRtol);
  }
}

TEST(VendorSoftmax, LastAxis) {
  DSTACK_REQUIRE_GPU();
  for (int64_t cols : {1, 37, 1000}) {
    OneNode c;
    c.node(OpKind::Softmax, {c.input({3, cols}, -4.f, 4.f)});
    expect_matches(c, kMathAtol, 1e-4f);
  }
}

TEST(VendorSoftmax, LayerNormIsRefused) {
  DSTACK_REQUIRE_GPU();
  OneNode c;
  c.node(OpKind::LayerNorm, {c.input({3, 16})});
  expect_not_covered(c);
}

// Everything about a node's attributes that can change what the vendor does with it.
std::string fmt_key(const Attrs& a) {
  std::string k;
  for (int v : {a.kernel_h, a.kernel_w, a.stride_h, a.stride_w, a.pad_top, a.pad_left, a.pad_bottom, a.pad_right,
                a.dilation_h, a.dilation_w, a.groups, int(a.ceil_mode), int(a.count_include_pad), int(a.act.kind),
                int(a.unary), int(a.binary), a.axis, int(a.keepdims)})
    k.append(",").append(std::to_string(v));
  for (float v : {a.act.clip_min, a.act.clip_max, a.alpha}) k.append(",").append(std::to_string(v));
  for (int v : a.axes) k.append(";").append(std::to_string(v));
  return k;
}

// ---- the zoo: every node either runs on the vendor (writing every element) or returns false
// without touching the output. Values are checked op by op above; here, shapes and coverage.

TEST(VendorZoo, EveryNodeIsCoveredOrRefusedUntouched) {
  DSTACK_REQUIRE_GPU();
  cuda::Stream stream;
  VendorContext ctx(stream.get());
  int covered = 0, refused = 0;
  for (const models::ZooEntry& e : models::zoo()) {
    SCOPED_TRACE(e.name);
    models::BuildOptions options;
    options.weights = false;  // constants get random device data below; shapes are what matter
    const models::Model m = models::build_zoo_model(e.name, options);
    const Graph& g = m.graph;
    std::vector<Shape> full(g.values().size());
    for (size_t i = 0; i < g.values().size(); ++i) full[i] = models::full_shape(g.values()[i], 1);
    std::map<std::string, bool> seen;  // one run per distinct (op, shapes, attributes)
    for (const models::Node& n : g.nodes()) {
      std::vector<Shape> shapes;
      for (int id : n.inputs) shapes.push_back(full[size_t(id)]);
      const Shape out_shape = models::infer_output_shape(g, n, shapes);
      full[size_t(n.output)] = out_shape;
      std::string key = std::string(models::op_name(n.op));
      for (const Shape& s : shapes) key += models::shape_str(s);
      const Attrs& a = n.attrs;
      key += fmt_key(a);
      if (seen.count(key)) continue;
      seen[key] = true;

      // Values in [-1, 1) (only covered nodes read them, and none of those takes ids).
      std::vector<cuda::DeviceBuffer> buffers;
      std::vector<TensorView> views;
      for (size_t i = 0; i < shapes.size(); ++i) {
        buffers.push_back(test::upload(random_vector(models::num_elements(shapes[i]), uint32_t(i + 1))));
        views.push_back({shapes[i], buffers.back().as<float>()});
      }
      const size_t count = static_cast<size_t>(models::num_elements(out_shape));
      const cuda::DeviceBuffer y = test::poisoned(count);
      const bool ran = launch_vendor(n, views, out_shape, y.as<float>(), ctx, stream.get());
      stream.synchronize();
      EXPECT_EQ(ran, vendor_covers(n, shapes, out_shape)) << n.name;
      const std::vector<float> got = test::download(y, count);
      size_t poisoned = 0;
      for (float v : got) {
        uint32_t bits = 0;
        std::memcpy(&bits, &v, sizeof bits);
        poisoned += bits == 0xFFFFFFFFu ? 1 : 0;
      }
      if (ran) {
        ++covered;
        EXPECT_EQ(poisoned, 0u) << n.name << " (" << models::op_name(n.op) << "): elements left unwritten";
      } else {
        ++refused;
        EXPECT_EQ(poisoned, count) << n.name << " (" << models::op_name(n.op) << "): refused but wrote the output";
      }
    }
  }
  EXPECT_GT(covered, 100);
  RecordProperty("covered_distinct_nodes", covered);
  RecordProperty("refused_distinct_nodes", refused);
}

}  // namespace
}  // namespace dstack::vendor
