// VGG-16 and VGG-19 as torchvision defines them (torchvision/models/vgg.py, configurations D and
// E without batch-norm): 3x3 convolutions with biases and ReLU, 2x2 max-pools, three fully
// connected layers.
#include <string>
#include <vector>

#include "models/builder.h"
#include "models/zoo/zoo_models.h"

namespace dstack::models {

namespace {

constexpr int kPool = 0;  // marks a max-pool in a configuration, as torchvision's "M"

Model build_vgg(const char* name, const std::vector<int>& config, const BuildOptions& options) {
  ModelBuilder b(name, options);
  int x = b.input("input", {3, 224, 224});
  // Names are torchvision's module paths: features.<i> counts every layer (conv, ReLU, pool); the
  // ReLU at i + 1 is fused into the convolution at i.
  int index = 0;
  for (int channels : config) {
    const std::string layer = "features." + std::to_string(index);
    if (channels == kPool) {
      x = b.max_pool(layer, x, 2, 2, 0);
      index += 1;
    } else {
      ConvSpec c = ConvSpec::square(channels, 3, 1, 1);
      c.bias = true;
      c.batch_norm = false;
      x = b.conv(layer, x, c);
      index += 2;
    }
  }
  // The features end at 512 x 7 x 7, so torchvision's AdaptiveAvgPool2d((7, 7)) is the identity
  // at a 224x224 input and is omitted; dropout is the identity at inference.
  const ActivationParams relu{Activation::Relu};
  x = b.flatten("flatten", x);  // 25088
  x = b.linear("classifier.0", x, 4096, relu);
  x = b.linear("classifier.3", x, 4096, relu);
  x = b.linear("classifier.6", x, 1000);
  b.output(x);
  return b.finish();
}

}  // namespace

Model build_vgg16(const BuildOptions& options) {
  return build_vgg("vgg16", {64, 64, kPool, 128, 128, kPool, 256, 256, 256, kPool, 512, 512, 512, kPool,
                             512, 512, 512, kPool},
                   options);
}

Model build_vgg19(const BuildOptions& options) {
  return build_vgg("vgg19", {64, 64, kPool, 128, 128, kPool, 256, 256, 256, 256, kPool, 512, 512, 512, 512,
                             kPool, 512, 512, 512, 512, kPool},
                   options);
}

}  // namespace dstack::models
