#include <gtest/gtest.h>

#include "models/plan.h"
#include "models/zoo.h"

namespace dstack::models {
namespace {

// x[3,8,8] -> conv a (4 ch, 3x3 pad 1) and conv b (2 ch, 1x1) in parallel -> concat -> flatten -> linear(10)
Graph branchy() {
  Graph g("branchy");
  int x = g.add_input("x", {3, 8, 8});
  Attrs c3;
  c3.kernel_h = c3.kernel_w = 3;
  c3.pad_top = c3.pad_left = c3.pad_bottom = c3.pad_right = 1;
  int a = g.add_node("a", OpKind::Conv2d, {x, g.add_constant("wa", {4, 3, 3, 3}, std::vector<float>(108)),
                                            g.add_constant("ba", {4}, std::vector<float>(4))}, c3);
  int b = g.add_node("b", OpKind::Conv2d, {x, g.add_constant("wb", {2, 3, 1, 1}, std::vector<float>(6))});
  Attrs cat;
  cat.axis = 1;
  int c = g.add_node("cat", OpKind::Concat, {a, b}, cat);
  Attrs flat;
  flat.shape = {6 * 64};
  int f = g.add_node("flat", OpKind::Reshape, {c}, flat);
  int y = g.add_node("fc", OpKind::Linear, {f, g.add_constant("wf", {10, 384}, std::vector<float>(3840))});
  g.mark_output(y);
  return g;
}

TEST(Plan, FlopsAndBytesByHand) {
  Plan p = lower(branchy(), 2);
  ASSERT_EQ(p.kernels.size(), 4u);  // the reshape launches nothing
  const KernelLaunch& a = p.kernels[0];
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.output_shape, (Shape{2, 4, 8, 8}));
  EXPECT_EQ(a.flops, 2 * (2 * 4 * 8 * 8) * (3 * 3 * 3));
  EXPECT_EQ(a.bytes_read, 4 * (2 * 3 * 8 * 8 + 108 + 4));
  EXPECT_EQ(a.bytes_written, 4 * (2 * 4 * 8 * 8));
  const KernelLaunch& fc = p.kernels[3];
  EXPECT_EQ(fc.flops, 2 * 2 * 10 * 384);
  EXPECT_EQ(p.total_flops(), a.flops + p.kernels[1].flops + 0 + fc.flops);
}

TEST(Plan, DependenciesExposeConcurrentBranches) {
  Plan p = lower(branchy(), 1);
  EXPECT_TRUE(p.kernels[0].deps.empty());
  EXPECT_TRUE(p.kernels[1].deps.empty());  // a and b may run concurrently
  EXPECT_EQ(p.kernels[2].deps, (std::vector<int>{0, 1}));
  EXPECT_EQ(p.kernels[3].deps, (std::vector<int>{2}));  // through the reshape to its producer
}

TEST(Plan, BatchMustBePositive) { EXPECT_THROW(lower(branchy(), 0), GraphError); }

TEST(Plan, ZooFlopsScaleLinearlyWithBatch) {
  Model m = build_zoo_model("resnet18", BuildOptions{.seed = 1, .weights = false});
  Plan one = lower(m.graph, 1), eight = lower(m.graph, 8);
  EXPECT_EQ(eight.total_flops(), 8 * one.total_flops());
  EXPECT_EQ(one.kernels.size(), eight.kernels.size());
  // ResNet-18 is 1.82 GMACs per 224x224 image (torchvision's figure).
  EXPECT_NEAR(static_cast<double>(one.total_flops()) / 2e9, 1.82, 0.02);
}

TEST(Plan, InceptionHasConcurrentBranches) {
  Plan p = lower(build_zoo_model("inception_v3", BuildOptions{.seed = 1, .weights = false}).graph, 1);
  int independent_pairs = 0;
  for (size_t i = 1; i < p.kernels.size(); ++i)
    if (std::find(p.kernels[i].deps.begin(), p.kernels[i].deps.end(), static_cast<int>(i - 1)) == p.kernels[i].deps.end())
      ++independent_pairs;
  EXPECT_GT(independent_pairs, 20);
}

}  // namespace
}  // namespace dstack::models

namespace dstack::models {
namespace {

TEST(Plan, ShapeOnlyModelPlansLikeTheWeightedOne) {
  Plan with = lower(build_zoo_model("mobilenet_v2", 3).graph, 2);
  Plan without = lower(build_zoo_model("mobilenet_v2", BuildOptions{.seed = 3, .weights = false}).graph, 2);
  ASSERT_EQ(with.kernels.size(), without.kernels.size());
  EXPECT_EQ(with.total_flops(), without.total_flops());
  EXPECT_EQ(with.total_bytes(), without.total_bytes());
}

}  // namespace
}  // namespace dstack::models

namespace dstack::models {
namespace {

Model shape_only(const std::string& name) { return build_zoo_model(name, BuildOptions{.seed = 1, .weights = false}); }

const KernelLaunch& by_name(const Plan& p, const std::string& name) {
  for (const auto& k : p.kernels)
    if (k.name == name) return k;
  throw std::runtime_error("no kernel " + name);
}

TEST(PlanLaunches, EveryKernelOfTheZooHasItsCudaLaunches) {
  for (const char* name : {"resnet50", "inception_v3", "mobilenet_v2", "bert_base"}) {
    Plan p = lower(shape_only(name).graph, 3);
    for (const auto& k : p.kernels) {
      ASSERT_FALSE(k.launches.empty()) << name << " " << k.name;
      for (const auto& g : k.launches) {
        EXPECT_GT(g.grid.count(), 0u) << k.name;
        EXPECT_GT(g.block.count(), 0u) << k.name;
        EXPECT_LE(g.block.count(), 1024u) << k.name;
        EXPECT_LE(g.shared_bytes, 48u * 1024u) << k.name;
      }
    }
  }
}

TEST(PlanLaunches, ConvolutionsPickTheirAlgorithm) {
  Plan mobile = lower(shape_only("mobilenet_v2").graph, 1);
  EXPECT_EQ(by_name(mobile, "features.2.conv.1").launches.at(0).kernel, "conv2d_depthwise<float>");
  EXPECT_EQ(by_name(mobile, "features.2.conv.0").launches.at(0).kernel, "conv2d_implicit_gemm<float>");
  Plan resnext = lower(shape_only("resnext50_32x4d").graph, 1);
  EXPECT_EQ(by_name(resnext, "layer1.0.conv2").launches.at(0).grid.z, 32u) << "one grid layer per group";
}

TEST(PlanLaunches, MultiLaunchOpsListEveryLaunch) {
  Plan bert = lower(shape_only("bert_base").graph, 2);
  EXPECT_EQ(by_name(bert, "embeddings.word_embeddings").launches.size(), 2u);  // id check + row copy
  Plan inception = lower(shape_only("inception_v3").graph, 1);
  int concats = 0;
  for (const auto& k : inception.kernels) {
    if (k.op != OpKind::Concat) continue;
    ++concats;
    EXPECT_EQ(k.launches.size(), k.input_shapes.size()) << k.name;
  }
  EXPECT_EQ(concats, 15);  // Mixed_5b .. Mixed_7c, plus the inner concats of Mixed_7b/7c
}

}  // namespace
}  // namespace dstack::models

namespace dstack::models {
namespace {

using kernels::Precision;

TEST(PlanPrecision, DefaultsToFp32AndRecordsTheChoice) {
  EXPECT_EQ(lower(branchy(), 1).precision, Precision::F32);
  EXPECT_EQ(lower(branchy(), 1, Precision::F16).precision, Precision::F16);
  EXPECT_EQ(lower(branchy(), 1, Precision::BF16).precision, Precision::BF16);
}

TEST(PlanPrecision, SixteenBitStorageHalvesTheBytesNotTheFlops) {
  for (Precision prec : {Precision::F16, Precision::BF16}) {
    Plan p = lower(branchy(), 2, prec);
    const KernelLaunch& a = p.kernels[0];
    EXPECT_EQ(a.bytes_read, 2 * (2 * 3 * 8 * 8 + 108 + 4));
    EXPECT_EQ(a.bytes_written, 2 * (2 * 4 * 8 * 8));
    Plan f32 = lower(branchy(), 2);
    EXPECT_EQ(p.total_flops(), f32.total_flops());
    EXPECT_EQ(2 * p.total_bytes(), f32.total_bytes());
  }
}

TEST(PlanPrecision, EmbeddingIdsStayFourBytes) {
  const Graph g = shape_only("bert_base").graph;
  const Plan plan32 = lower(g, 2), plan16 = lower(g, 2, Precision::F16);
  const KernelLaunch& f32 = by_name(plan32, "embeddings.word_embeddings");
  const KernelLaunch& f16 = by_name(plan16, "embeddings.word_embeddings");
  const int64_t ids = num_elements(f32.input_shapes.at(1)), out = num_elements(f32.output_shape);
  EXPECT_EQ(f32.bytes_read, 4 * ids + 4 * out);
  EXPECT_EQ(f16.bytes_read, 4 * ids + 2 * out);
  EXPECT_EQ(f16.bytes_written, 2 * out);
  EXPECT_EQ(f16.launches.at(0).kernel, "gather_rows_check");  // reads the fp32 ids: not a template
  EXPECT_EQ(f16.launches.at(1).kernel, "gather_rows_copy<__half>");
}

TEST(PlanPrecision, SixteenBitGemmAndConvTakeTensorCoreKernels) {
  const Graph mobile = shape_only("mobilenet_v2").graph;
  Plan h = lower(mobile, 1, Precision::F16);
  EXPECT_EQ(by_name(h, "features.2.conv.0").launches.at(0).kernel, "conv2d_implicit_gemm_tc<__half>");
  EXPECT_EQ(by_name(h, "features.2.conv.1").launches.at(0).kernel, "conv2d_depthwise<__half>");
  Plan b = lower(mobile, 1, Precision::BF16);
  EXPECT_EQ(by_name(b, "features.2.conv.0").launches.at(0).kernel, "conv2d_implicit_gemm_tc<__nv_bfloat16>");
  EXPECT_EQ(by_name(b, "features.2.conv.0").launches.at(0).block.count(), 128u);
  bool saw_gemm = false;
  for (const auto& k : b.kernels)
    if (k.op == OpKind::Linear) {
      EXPECT_EQ(k.launches.at(0).kernel, "gemm_tc<__nv_bfloat16>") << k.name;
      saw_gemm = true;
    }
  EXPECT_TRUE(saw_gemm);
  // Every launch of every node names the storage type (or is the one non-template kernel).
  Plan bert = lower(shape_only("bert_base").graph, 1, Precision::BF16);
  for (const auto& k : bert.kernels)
    for (const auto& g : k.launches) {
      if (g.kernel == "gather_rows_check") continue;
      EXPECT_NE(g.kernel.find("<__nv_bfloat16>"), std::string::npos) << k.name << ": " << g.kernel;
    }
}

TEST(PlanPrecision, CudaLaunchesTakesThePrecision) {
  const Graph g = branchy();
  const Node& conv = g.nodes()[0];
  const std::vector<Shape> in = {{1, 3, 8, 8}, {4, 3, 3, 3}, {4}};
  const Shape out = {1, 4, 8, 8};
  EXPECT_EQ(cuda_launches(conv, in, out).at(0).kernel, "conv2d_implicit_gemm<float>");
  EXPECT_EQ(cuda_launches(conv, in, out, Precision::F16).at(0).kernel, "conv2d_implicit_gemm_tc<__half>");
}

}  // namespace
}  // namespace dstack::models
