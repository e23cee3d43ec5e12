// The model zoo's structure: parameter counts equal torchvision's, input and output shapes, a few
// per-layer shapes by value name, fused residuals, names, and seeded weights. The models are not
// run here (the executor's tests do that).
#include <gtest/gtest.h>

#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "models/zoo.h"

namespace dstack::models {
namespace {

struct Expected {
  std::string name;
  int64_t params;               // torchvision's count (BertModel's for bert_base)
  Shape input;                  // per sample
  std::vector<Shape> outputs;   // per sample, in the graph's output order
  int fused_residuals;          // convolutions that carry a residual input
  std::vector<std::pair<std::string, Shape>> layers;  // value name -> per-sample (or constant) shape
};

// gtest names a failing parameter with this instead of its bytes.
void PrintTo(const Expected& e, std::ostream* os) { *os << e.name; }

// Parameter counts printed by models/zoo/param_counts.py (torchvision 0.14, weights=None,
// init_weights=False, inception_v3 with aux_logits=False; bert_base from bert-base-uncased's
// configuration). Rerun it and update these if a model changes.
const std::vector<Expected>& expected_models() {
  static const std::vector<Expected> models{
      {"alexnet", 61'100'840, {3, 224, 224}, {{1000}}, 0,
       {{"features.0", {64, 55, 55}}, {"features.12", {256, 6, 6}}, {"flatten", {9216}}}},
      {"vgg16", 138'357'544, {3, 224, 224}, {{1000}}, 0,
       {{"features.28", {512, 14, 14}}, {"features.30", {512, 7, 7}}, {"flatten", {25088}}}},
      {"vgg19", 143'667'240, {3, 224, 224}, {{1000}}, 0,
       {{"features.34", {512, 14, 14}}, {"features.36", {512, 7, 7}}, {"flatten", {25088}}}},
      {"resnet18", 11'689'512, {3, 224, 224}, {{1000}}, 8,
       {{"maxpool", {64, 56, 56}}, {"layer1.1.conv2", {64, 56, 56}}, {"layer4.1.conv2", {512, 7, 7}}}},
      // v1.5: layer2's first block keeps 56x56 through its 1x1 conv1 and strides on the 3x3 conv2.
      {"resnet50", 25'557'032, {3, 224, 224}, {{1000}}, 16,
       {{"layer1.2.conv3", {256, 56, 56}},
        {"layer2.0.conv1", {128, 56, 56}},
        {"layer2.0.conv2", {128, 28, 28}},
        {"layer2.0.downsample.0", {512, 28, 28}},
        {"layer4.2.conv3", {2048, 7, 7}},
        {"avgpool", {2048, 1, 1}}}},
      {"resnet152", 60'192'808, {3, 224, 224}, {{1000}}, 50,
       {{"layer3.35.conv3", {1024, 14, 14}}, {"layer4.2.conv3", {2048, 7, 7}}}},
      // 32 groups of 4 channels: layer1's 3x3 is 128 wide, each group seeing 4 input channels.
      {"resnext50_32x4d", 25'028'904, {3, 224, 224}, {{1000}}, 16,
       {{"layer1.0.conv2", {128, 56, 56}},
        {"layer1.0.conv2.weight", {128, 4, 3, 3}},
        {"layer4.2.conv3", {2048, 7, 7}}}},
      {"mobilenet_v2", 3'504'872, {3, 224, 224}, {{1000}}, 10,
       {{"features.1.conv.1", {16, 112, 112}},
        {"features.2.conv.1.weight", {96, 1, 3, 3}},  // depthwise
        {"features.17.conv.2", {320, 7, 7}},
        {"features.18", {1280, 7, 7}}}},
      {"inception_v3", 23'834'568, {3, 299, 299}, {{1000}}, 0,
       {{"maxpool2", {192, 35, 35}},
        {"Mixed_5b", {256, 35, 35}},
        {"Mixed_6e", {768, 17, 17}},
        {"Mixed_7a", {1280, 8, 8}},
        {"Mixed_7c", {2048, 8, 8}}}},
      // Outputs: the sequence output [128, 768], then the pooled output [768].
      {"bert_base", 109'482'240, {128}, {{128, 768}, {768}}, 0,
       {{"embeddings.LayerNorm", {128, 768}},
        {"encoder.layer.0.attention.self.key.transpose", {12, 64, 128}},
        {"encoder.layer.0.attention.self.probs", {12, 128, 128}},
        {"encoder.layer.0.intermediate.dense", {128, 3072}},
        {"pooler.first_token", {768}}}},
  };
  return models;
}

const Value* find_value(const Graph& g, const std::string& name) {
  for (const Value& v : g.values())
    if (v.name == name) return &v;
  return nullptr;
}

TEST(Zoo, HasTorchvisionsNamesInOrder) {
  std::vector<std::string> names;
  for (const ZooEntry& e : zoo()) names.push_back(e.name);
  std::vector<std::string> want;
  for (const Expected& e : expected_models()) want.push_back(e.name);
  EXPECT_EQ(names, want);
}

TEST(Zoo, UnknownNameListsEveryModel) {
  try {
    build_zoo_model("resnet51", 1);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown model 'resnet51'; the zoo has: alexnet, vgg16, "), std::string::npos) << msg;
    for (const ZooEntry& entry : zoo()) EXPECT_NE(msg.find(entry.name), std::string::npos) << msg;
  }
}

class ZooModel : public testing::TestWithParam<Expected> {};

TEST_P(ZooModel, MatchesTorchvision) {
  const Expected& want = GetParam();
  const Model m = build_zoo_model(want.name, BuildOptions{.seed = 1, .weights = false});
  const Graph& g = m.graph;
  EXPECT_EQ(g.name(), want.name);
  EXPECT_EQ(m.source, "zoo");
  EXPECT_EQ(m.param_count, want.params);

  ASSERT_EQ(g.inputs().size(), 1u);
  EXPECT_EQ(g.value(g.inputs()[0]).shape, want.input);
  std::vector<Shape> outputs;
  for (int id : g.outputs()) outputs.push_back(g.value(id).shape);
  EXPECT_EQ(outputs, want.outputs);

  int fused = 0;
  for (const Node& n : g.nodes()) fused += (n.op == OpKind::Conv2d && n.inputs.size() == 4) ? 1 : 0;
  EXPECT_EQ(fused, want.fused_residuals);

  for (const auto& [name, shape] : want.layers) {
    const Value* v = find_value(g, name);
    ASSERT_NE(v, nullptr) << "no value named " << name;
    EXPECT_EQ(v->shape, shape) << name << " is " << shape_str(v->shape);
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, ZooModel, testing::ValuesIn(expected_models()),
                         [](const testing::TestParamInfo<Expected>& p) { return p.param.name; });

// Without batch-norm to fold, the stored constants are exactly the counted parameters.
TEST(Zoo, AlexNetStoresWhatItCounts) {
  const Model m = build_zoo_model("alexnet", 1);
  EXPECT_EQ(m.graph.constant_elements(), m.param_count);
}

std::vector<std::vector<float>> weights(const Model& m) {
  std::vector<std::vector<float>> w;
  for (const Value& v : m.graph.values())
    if (v.constant) w.push_back(*v.data);
  return w;
}

TEST(Zoo, WeightsDependOnlyOnTheSeed) {
  const Model a = build_zoo_model("resnet18", 7);
  const Model b = build_zoo_model("resnet18", 7);
  const Model c = build_zoo_model("resnet18", 8);
  EXPECT_EQ(a.seed, 7u);
  EXPECT_EQ(c.seed, 8u);
  const auto wa = weights(a), wb = weights(b), wc = weights(c);
  ASSERT_EQ(wa.size(), wc.size());
  EXPECT_TRUE(wa == wb);
  for (size_t i = 0; i < wa.size(); ++i)
    EXPECT_NE(wa[i], wc[i]) << "constant " << i << " is the same for seeds 7 and 8";
}

}  // namespace
}  // namespace dstack::models
