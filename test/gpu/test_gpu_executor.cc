// Whole models on dstack's CUDA kernels against the CPU reference executor.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "models/zoo.h"
#include "runtime/backend/cpu/cpu_executor.h"
#include "runtime/backend/gpu_executor.h"
#include "test/gpu/gpu_test_env.h"

namespace dstack {
namespace {

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

class GpuMatchesCpu : public ::testing::TestWithParam<std::string> {};

// fp32 on both sides; only the summation order differs, so the relative L2 error stays ~1e-6.
TEST_P(GpuMatchesCpu, AtBatchTwo) {
  DSTACK_REQUIRE_GPU();
  const std::string name = GetParam();
  models::Model m = models::build_zoo_model(name, 3);
  models::Tensor x = random_input(m, 2, name == "bert_base");
  std::vector<models::Tensor> cpu = run_cpu(m.graph, {x});
  GpuRunStats stats;
  std::vector<models::Tensor> gpu = run_gpu(m.graph, {x}, &stats);
  ASSERT_EQ(cpu.size(), gpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) {
    ASSERT_EQ(cpu[i].shape, gpu[i].shape);
    EXPECT_LT(relative_l2(cpu[i].data, gpu[i].data), 1e-4) << name << " output " << i;
  }
  EXPECT_GT(stats.kernels, 0);
  std::cout << "[ info ] " << name << " batch 2: " << stats.kernels << " kernels, " << stats.milliseconds
            << " ms (CUDA events, allocations included)\n";
}

INSTANTIATE_TEST_SUITE_P(Zoo, GpuMatchesCpu,
                         ::testing::Values("alexnet", "resnet18", "resnext50_32x4d", "mobilenet_v2", "inception_v3",
                                           "bert_base"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST(GpuExecutor, EmbeddingIdOutOfRangeIsAnError) {
  DSTACK_REQUIRE_GPU();
  models::Graph g("emb");
  int ids = g.add_input("ids", {3});
  g.mark_output(g.add_node("emb", models::OpKind::Embedding, {g.add_constant("table", {4, 2}, std::vector<float>(8, 1.f)), ids}));
  EXPECT_EQ(run_gpu(g, {models::Tensor{{1, 3}, {0.f, 3.f, 1.f}}})[0].shape, (models::Shape{1, 3, 2}));
  EXPECT_THROW(run_gpu(g, {models::Tensor{{1, 3}, {0.f, 4.f, 1.f}}}), models::GraphError);
}

TEST(GpuExecutor, WrongInputShapeIsExplained) {
  DSTACK_REQUIRE_GPU();
  models::Model m = models::build_zoo_model("resnet18", 1);
  EXPECT_THROW(run_gpu(m.graph, {models::Tensor{{1, 3, 100, 100}, std::vector<float>(30000)}}), std::invalid_argument);
}

}  // namespace
}  // namespace dstack
