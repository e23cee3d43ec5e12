// The registry: torchvision's names mapped to the builders, in the order `dstack models` lists them.
#include "models/zoo.h"

#include <stdexcept>

#include "models/zoo/zoo_models.h"

namespace dstack::models {

const std::vector<ZooEntry>& zoo() {
  static const std::vector<ZooEntry> entries{
      {"alexnet", "AlexNet, 3x224x224 -> 1000 classes", &build_alexnet},
      {"vgg16", "VGG-16 (configuration D), 3x224x224 -> 1000 classes", &build_vgg16},
      {"vgg19", "VGG-19 (configuration E), 3x224x224 -> 1000 classes", &build_vgg19},
      {"resnet18", "ResNet-18 (basic blocks), 3x224x224 -> 1000 classes", &build_resnet18},
      {"resnet50", "ResNet-50 v1.5 (bottlenecks), 3x224x224 -> 1000 classes", &build_resnet50},
      {"resnet152", "ResNet-152 v1.5 (bottlenecks), 3x224x224 -> 1000 classes", &build_resnet152},
      {"resnext50_32x4d", "ResNeXt-50 32x4d (grouped bottlenecks), 3x224x224 -> 1000 classes", &build_resnext50_32x4d},
      {"mobilenet_v2", "MobileNetV2 (inverted residuals, ReLU6), 3x224x224 -> 1000 classes", &build_mobilenet_v2},
      {"inception_v3", "Inception-v3 without the auxiliary head, 3x299x299 -> 1000 classes", &build_inception_v3},
      {"bert_base", "BERT-base encoder with pooler, 128 token ids -> [128, 768] and pooled [768]", &build_bert_base},
  };
  return entries;
}

Model build_zoo_model(const std::string& name, uint64_t seed) {
  return build_zoo_model(name, BuildOptions{.seed = seed, .weights = true});
}

Model build_zoo_model(const std::string& name, const BuildOptions& options) {
  std::string names;
  for (const ZooEntry& e : zoo()) {
    if (e.name == name) return e.build(options);
    names += (names.empty() ? "" : ", ") + e.name;
  }
  throw std::invalid_argument("unknown model '" + name + "'; the zoo has: " + names);
}

}  // namespace dstack::models
