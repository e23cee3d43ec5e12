#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "models/zoo.h"
#include "runtime/backend/cpu/cpu_executor.h"

namespace dstack {
namespace {

using models::Attrs;
using models::Graph;
using models::OpKind;
using models::Tensor;

// y = relu(W x + b) over channels (a 1x1 convolution), then the sum of the two output channels
// via a Linear with weights [1, 1]: every number is computed by hand below.
Graph tiny() {
  Graph g("tiny");
  int x = g.add_input("x", {2, 1, 1});
  Attrs a;
  a.act.kind = kernels::Activation::Relu;
  int c = g.add_node("conv", OpKind::Conv2d,
                     {x, g.add_constant("w", {2, 2, 1, 1}, {1.f, 2.f, -3.f, 1.f}), g.add_constant("b", {2}, {0.5f, 0.f})},
                     a);
  Attrs flat;
  flat.shape = {2};
  int f = g.add_node("flat", OpKind::Reshape, {c}, flat);
  int y = g.add_node("fc", OpKind::Linear, {f, g.add_constant("wf", {1, 2}, {1.f, 1.f})});
  g.mark_output(y);
  return g;
}

TEST(CpuExecutor, TinyGraphByHand) {
  // sample 0: x = (1, 1): conv = (1+2+.5, -3+1) = (3.5, -2) -> relu (3.5, 0) -> 3.5
  // sample 1: x = (-1, 2): conv = (-1+4+.5, 3+2) = (3.5, 5) -> 8.5
  std::vector<Tensor> out = run_cpu(tiny(), {Tensor{{2, 2, 1, 1}, {1.f, 1.f, -1.f, 2.f}}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape, (models::Shape{2, 1}));
  EXPECT_FLOAT_EQ(out[0].data[0], 3.5f);
  EXPECT_FLOAT_EQ(out[0].data[1], 8.5f);
}

TEST(CpuExecutor, WrongInputShapeNamesBothShapes) {
  try {
    run_cpu(tiny(), {Tensor{{2, 3, 1, 1}, std::vector<float>(6)}});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("has shape [2, 3, 1, 1], the model expects [2, 2, 1, 1]"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(run_cpu(tiny(), {}), std::invalid_argument);
}

TEST(CpuExecutor, EmbeddingIdOutOfRangeIsAnError) {
  Graph g("emb");
  int ids = g.add_input("ids", {3});
  int y = g.add_node("emb", OpKind::Embedding, {g.add_constant("table", {4, 2}, std::vector<float>(8, 1.f)), ids});
  g.mark_output(y);
  EXPECT_EQ(run_cpu(g, {Tensor{{1, 3}, {0.f, 3.f, 1.f}}})[0].shape, (models::Shape{1, 3, 2}));
  try {
    run_cpu(g, {Tensor{{1, 3}, {0.f, 4.f, 1.f}}});
    FAIL();
  } catch (const models::GraphError& e) {
    EXPECT_NE(std::string(e.what()).find("id 4 at position 1 is outside the table's 4 rows"), std::string::npos) << e.what();
  }
}

// A batch of three gives each sample exactly what it gets alone: batching must not mix samples.
TEST(CpuExecutor, BatchedRunEqualsPerSampleRuns) {
  models::Model m = models::build_zoo_model("mobilenet_v2", 7);
  const int64_t per = 3 * 224 * 224;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  Tensor batch{{3, 3, 224, 224}, std::vector<float>(static_cast<size_t>(3 * per))};
  for (float& v : batch.data) v = u(rng);
  Tensor all = run_cpu(m.graph, {batch})[0];
  ASSERT_EQ(all.shape, (models::Shape{3, 1000}));
  for (int s = 0; s < 3; ++s) {
    Tensor one{{1, 3, 224, 224}, std::vector<float>(batch.data.begin() + s * per, batch.data.begin() + (s + 1) * per)};
    Tensor y = run_cpu(m.graph, {one})[0];
    for (int j = 0; j < 1000; ++j)
      ASSERT_NEAR(y.data[static_cast<size_t>(j)], all.data[static_cast<size_t>(s * 1000 + j)],
                  1e-4f + 1e-4f * std::fabs(y.data[static_cast<size_t>(j)]))
          << "sample " << s << " logit " << j;
  }
}

}  // namespace
}  // namespace dstack

namespace dstack {
namespace {

TEST(CpuExecutor, ShapeOnlyModelCannotRun) {
  models::Model m = models::build_zoo_model("mobilenet_v2", models::BuildOptions{.seed = 1, .weights = false});
  try {
    run_cpu(m.graph, {Tensor{{1, 3, 224, 224}, std::vector<float>(3 * 224 * 224)}});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("built without weights"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dstack
