// Every zoo model runs end to end on the CPU reference backend at batch 1 (random weights, seeded
// random input) and gives finite outputs of the expected shape.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "models/zoo.h"
#include "runtime/backend/cpu/cpu_executor.h"

namespace dstack {
namespace {

class ZooRuns : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooRuns, OnTheCpuBackend) {
  models::Model m = models::build_zoo_model(GetParam(), 1);
  const models::Value& in = m.graph.value(m.graph.inputs().at(0));
  models::Tensor x{models::full_shape(in, 1), std::vector<float>(static_cast<size_t>(models::num_elements(in.shape)))};
  std::mt19937 rng(11);
  if (GetParam() == "bert_base") {
    std::uniform_int_distribution<int> id(0, 30521);
    for (float& v : x.data) v = static_cast<float>(id(rng));
  } else {
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (float& v : x.data) v = u(rng);
  }
  std::vector<models::Tensor> out = run_cpu(m.graph, {x});
  ASSERT_EQ(out.size(), m.graph.outputs().size());
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].shape, models::full_shape(m.graph.value(m.graph.outputs()[i]), 1));
    double norm = 0;
    for (float v : out[i].data) {
      ASSERT_TRUE(std::isfinite(v));
      norm += double(v) * v;
    }
    EXPECT_GT(norm, 0.0) << "output " << i << " is all zeros";
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, ZooRuns,
                         ::testing::Values("alexnet", "vgg16", "vgg19", "resnet18", "resnet50", "resnet152",
                                           "resnext50_32x4d", "mobilenet_v2", "inception_v3", "bert_base"),
                         [](const ::testing::TestParamInfo<std::string>& param) { return param.param; });

}  // namespace
}  // namespace dstack
