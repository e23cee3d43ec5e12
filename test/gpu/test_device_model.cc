// A resident model: weights once, one arena per batch, per-node and CUDA-graph dispatch on
// partition streams, all agreeing bit for bit.
#include <gtest/gtest.h>

#include <random>

#include "models/zoo.h"
#include "runtime/backend/cuda/device_model.h"
#include "runtime/backend/cuda/partition_pool.h"
#include "runtime/backend/cuda/resources.h"
#include "test/gpu/gpu_test_env.h"

namespace dstack::cuda {
namespace {

models::Tensor image(int64_t batch, unsigned seed) {
  models::Tensor x{{batch, 3, 224, 224}, {}};
  x.data.resize(static_cast<size_t>(models::num_elements(x.shape)));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (float& v : x.data) v = u(rng);
  return x;
}

TEST(DeviceModel, BatchesHaveTheirOwnArenasAndDispatchModesAgree) {
  DSTACK_REQUIRE_GPU();
  const models::Model m = models::build_zoo_model("mobilenet_v2", 4);
  DeviceModel model(m.graph, {});
  EXPECT_GT(model.weight_bytes(), 4 * 3'000'000);  // 3.5 M parameters, fp32
  Stream stream;

  const models::Tensor x1 = image(1, 1), x4 = image(4, 2);
  model.set_inputs({x1}, stream.get());
  model.enqueue(1, stream.get());
  const auto eager1 = model.outputs(1, stream.get());

  model.set_inputs({x4}, stream.get());
  for (size_t i = 0; i < m.graph.nodes().size(); ++i) model.enqueue_node(4, i, stream.get());
  const auto per_node4 = model.outputs(4, stream.get());

  model.set_inputs({x4}, stream.get());
  model.enqueue_graph(4, stream.get());
  const auto graph4 = model.outputs(4, stream.get());
  EXPECT_EQ(per_node4[0].data, graph4[0].data);
  EXPECT_EQ(model.graphs_captured(), 1);

  // Batch 1's arena was not disturbed by batch 4's runs... and the first image of batch 4 is not x1,
  // so rerunning batch 1 from its arena's input must reproduce the first result.
  model.enqueue(1, stream.get());
  EXPECT_EQ(model.outputs(1, stream.get())[0].data, eager1[0].data);
  EXPECT_GT(model.prepare(4).activation_bytes, model.prepare(1).activation_bytes);
}

TEST(DeviceModel, OneGraphPerPartitionStream) {
  DSTACK_REQUIRE_GPU();
  const GpuDevice dev = test::gpu_report().devices.at(0);
  if (!dev.green_contexts) GTEST_SKIP() << "no green contexts: " << dev.green_context_error;
  const int unit = dev.green_contexts->split_group_sms;
  PartitionPool pool(0);
  const int small = pool.hold(PartitionLayout{{unit}});
  const int large = pool.hold(PartitionLayout{{4 * unit}});

  const models::Model m = models::build_zoo_model("resnet18", 5);
  DeviceModel model(m.graph, {});
  const models::Tensor x = image(2, 3);
  std::vector<std::vector<float>> results;
  for (int layout : {small, large, small}) {
    cudaStream_t s = pool.stream(layout, 0);
    model.set_inputs({x}, s);
    model.enqueue_graph(2, s);
    results.push_back(model.outputs(2, s)[0].data);
  }
  EXPECT_EQ(model.graphs_captured(), 2) << "the second run on the small partition must reuse its graph";
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

TEST(DeviceModel, RefusesAGraphWithoutWeights) {
  DSTACK_REQUIRE_GPU();
  models::BuildOptions shapes_only;
  shapes_only.weights = false;
  const models::Model m = models::build_zoo_model("resnet18", shapes_only);
  EXPECT_THROW(DeviceModel(m.graph, {}), std::invalid_argument);
}

TEST(DeviceModel, ABatchTooLargeForTheGpuIsExplained) {
  DSTACK_REQUIRE_GPU();
  const models::Model m = models::build_zoo_model("resnet18", 1);
  DeviceModel model(m.graph, {});
  // resnet18's arena takes megabytes per image at fp32: a million images need terabytes.
  try {
    model.prepare(1'000'000);
    FAIL() << "a terabyte arena was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("use a smaller batch"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dstack::cuda
