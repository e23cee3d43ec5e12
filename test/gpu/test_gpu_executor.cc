// Whole models on the GPU (dstack's kernels at each precision, per kernel and as a CUDA graph, and
// the vendor backend) against the CPU reference executor.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "models/zoo.h"
#include "runtime/backend/cpu/cpu_executor.h"
#include "runtime/backend/gpu_executor.h"
#include "test/gpu/gpu_test_env.h"

namespace dstack {
namespace {

using kernels::Precision;

double relative_l2(const std::vector<float>& ref, const std::vector<float>& got) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num += (double(got[i]) - ref[i]) * (double(got[i]) - ref[i]);
    den += double(ref[i]) * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

models::Tensor random_input(const models::Model& m, int64_t batch, bool token_ids) {
  const models::Value& in = m.graph.value(m.graph.inputs().at(0));
  models::Tensor x{models::full_shape(in, batch), {}};
  x.data.resize(static_cast<size_t>(models::num_elements(x.shape)));
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::uniform_int_distribution<int> id(0, 30521);
  for (float& v : x.data) v = token_ids ? static_cast<float>(id(rng)) : u(rng);
  return x;
}

// Relative L2 error of a whole model's output against the fp32 CPU reference. fp32: only the
// summation order differs (~1e-6 measured on the H100). fp16/bf16: inputs, weights and every
// activation are rounded (unit roundoff 2^-11 and 2^-8) while accumulation stays fp32; over tens of
// layers the relative error grows to a few times the unit roundoff, so the bounds are ~40x and ~25x
// of it. The vendor backend's convolution algorithms (e.g. Winograd) reorder more: 1e-3.
double tolerance(Precision p, bool vendor) {
  if (vendor) return 1e-3;
  switch (p) {
    case Precision::F32: return 1e-4;
    case Precision::F16: return 2e-2;
    case Precision::BF16: return 1e-1;
  }
  return 0;
}

struct Config {
  Precision precision;
  bool vendor;
  bool cuda_graph;
};

std::string config_name(const Config& c) {
  return std::string(kernels::precision_name(c.precision)) + (c.vendor ? " vendor" : "") +
         (c.cuda_graph ? " graph" : "");
}

// One test per model, every configuration inside it: the CPU reference (seconds per model) is
// computed once.
class GpuMatchesCpu : public ::testing::TestWithParam<std::string> {};

TEST_P(GpuMatchesCpu, AtBatchTwoInEveryConfiguration) {
  DSTACK_REQUIRE_GPU();
  const std::string& name = GetParam();
  models::Model m = models::build_zoo_model(name, 3);
  models::Tensor x = random_input(m, 2, name == "bert_base");
  const std::vector<models::Tensor> cpu = run_cpu(m.graph, {x});
  const Config configs[] = {{Precision::F32, false, false}, {Precision::F16, false, false},
                            {Precision::BF16, false, false}, {Precision::F32, false, true},
                            {Precision::F16, false, true},  {Precision::F32, true, false}};
  for (const Config& c : configs) {
    SCOPED_TRACE(name + " " + config_name(c));
    GpuRunOptions options{c.precision, c.vendor, c.cuda_graph};
    GpuRunStats stats;
    std::vector<models::Tensor> gpu;
    try {
      gpu = run_gpu(m.graph, {x}, options, &stats);
    } catch (const std::invalid_argument& e) {
      if (c.vendor && std::string(e.what()).find("no vendor backend") != std::string::npos) {
        std::cout << "[ skip ] " << name << " vendor: " << e.what() << "\n";
        continue;
      }
      throw;
    }
    ASSERT_EQ(cpu.size(), gpu.size());
    for (size_t i = 0; i < cpu.size(); ++i) {
      ASSERT_EQ(cpu[i].shape, gpu[i].shape);
      const double err = relative_l2(cpu[i].data, gpu[i].data);
      EXPECT_LT(err, tolerance(c.precision, c.vendor)) << "output " << i;
      std::cout << "[ info ] " << name << " " << config_name(c) << " output " << i << ": relative L2 error " << err
                << "\n";
    }
    EXPECT_GT(stats.kernels, 0);
    EXPECT_EQ(stats.precision, kernels::precision_name(c.precision));
    if (c.vendor) {
      EXPECT_GT(stats.vendor_nodes, 0);
    }
    std::cout << "[ info ] " << name << " " << config_name(c) << " batch 2: " << stats.kernels << " nodes ("
              << stats.vendor_nodes << " vendor), " << stats.milliseconds << " ms (CUDA events), arena "
              << stats.activation_bytes << " B\n";
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, GpuMatchesCpu,
                         ::testing::Values("alexnet", "resnet18", "resnext50_32x4d", "mobilenet_v2", "inception_v3",
                                           "bert_base"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST(GpuExecutor, CudaGraphGivesTheSameBitsAsPerKernelDispatch) {
  DSTACK_REQUIRE_GPU();
  models::Model m = models::build_zoo_model("resnet18", 2);
  models::Tensor x = random_input(m, 3, false);
  const auto eager = run_gpu(m.graph, {x}, GpuRunOptions{Precision::F32, false, false});
  const auto graph = run_gpu(m.graph, {x}, GpuRunOptions{Precision::F32, false, true});
  EXPECT_EQ(eager[0].data, graph[0].data);
}

TEST(GpuExecutor, EmbeddingIdOutOfRangeIsAnError) {
  DSTACK_REQUIRE_GPU();
  models::Graph g("emb");
  int ids = g.add_input("ids", {3});
  g.mark_output(g.add_node("emb", models::OpKind::Embedding, {g.add_constant("table", {4, 2}, std::vector<float>(8, 1.f)), ids}));
  for (Precision p : {Precision::F32, Precision::F16}) {
    EXPECT_EQ(run_gpu(g, {models::Tensor{{1, 3}, {0.f, 3.f, 1.f}}}, {p})[0].shape, (models::Shape{1, 3, 2}));
    EXPECT_THROW(run_gpu(g, {models::Tensor{{1, 3}, {0.f, 4.f, 1.f}}}, {p}), models::GraphError);
  }
  // Ids above 2048 survive fp16 runs: they stay float32.
  models::Graph big("emb_big");
  int big_ids = big.add_input("ids", {1});
  std::vector<float> table(3000 * 2);
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<float>(i % 7);
  big.mark_output(big.add_node("emb", models::OpKind::Embedding, {big.add_constant("table", {3000, 2}, table), big_ids}));
  const auto out = run_gpu(big, {models::Tensor{{1, 1}, {2999.f}}}, {Precision::F16});
  EXPECT_EQ(out[0].data, (std::vector<float>{table[5998], table[5999]}));
}

TEST(GpuExecutor, WrongInputShapeIsExplained) {
  DSTACK_REQUIRE_GPU();
  models::Model m = models::build_zoo_model("resnet18", 1);
  EXPECT_THROW(run_gpu(m.graph, {models::Tensor{{1, 3, 100, 100}, std::vector<float>(30000)}}), std::invalid_argument);
}

}  // namespace
}  // namespace dstack
