// ResNet-18/50/152 and ResNeXt-50 32x4d as torchvision defines them (torchvision/models/resnet.py):
// v1.5, so a bottleneck's stride sits on its 3x3 convolution. Every convolution is followed by a
// batch-norm, folded into it; each block's residual add and ReLU are fused into its last
// convolution, so the downsample (when there is one) is built first.
#include <array>
#include <string>

#include "models/builder.h"
#include "models/zoo/zoo_models.h"

namespace dstack::models {

namespace {

struct ResNetConfig {
  const char* name;
  bool bottleneck;             // Bottleneck (expansion 4) or BasicBlock (expansion 1)
  std::array<int, 4> blocks;   // blocks in layer1..layer4
  int groups = 1;
  int width_per_group = 64;
};

ConvSpec conv_bn(int out, int kernel, int stride, int pad, ActivationParams act = {Activation::Relu}) {
  ConvSpec c = ConvSpec::square(out, kernel, stride, pad);
  c.act = act;
  return c;
}

// The shortcut of a block whose shape changes: 1x1 convolution (stride) + batch-norm, no ReLU.
int shortcut(ModelBuilder& b, const std::string& block, int x, int out, int stride) {
  if (stride == 1 && b.shape(x).at(0) == out) return x;
  return b.conv(block + ".downsample.0", x, conv_bn(out, 1, stride, 0, {}));
}

int basic_block(ModelBuilder& b, const std::string& block, int x, int planes, int stride) {
  const int identity = shortcut(b, block, x, planes, stride);
  int y = b.conv(block + ".conv1", x, conv_bn(planes, 3, stride, 1));
  return b.conv(block + ".conv2", y, conv_bn(planes, 3, 1, 1), identity);
}

int bottleneck(ModelBuilder& b, const std::string& block, int x, int planes, int stride, const ResNetConfig& cfg) {
  const int width = planes * cfg.width_per_group / 64 * cfg.groups;
  const int out = planes * 4;
  const int identity = shortcut(b, block, x, out, stride);
  int y = b.conv(block + ".conv1", x, conv_bn(width, 1, 1, 0));
  ConvSpec grouped = conv_bn(width, 3, stride, 1);
  grouped.groups = cfg.groups;
  y = b.conv(block + ".conv2", y, grouped);
  return b.conv(block + ".conv3", y, conv_bn(out, 1, 1, 0), identity);
}

Model build_resnet(const ResNetConfig& cfg, const BuildOptions& options) {
  ModelBuilder b(cfg.name, options);
  // Names are torchvision's module paths; a fused batch-norm/ReLU/residual takes its conv's name,
  // so e.g. "layer1.2.conv3" is the output of layer1.
  int x = b.input("input", {3, 224, 224});
  x = b.conv("conv1", x, conv_bn(64, 7, 2, 3));  // 64 x 112 x 112
  x = b.max_pool("maxpool", x, 3, 2, 1);          // 64 x 56 x 56
  constexpr std::array<int, 4> planes{64, 128, 256, 512};
  for (int layer = 0; layer < 4; ++layer) {
    for (int i = 0; i < cfg.blocks[static_cast<size_t>(layer)]; ++i) {
      const std::string block = "layer" + std::to_string(layer + 1) + "." + std::to_string(i);
      const int stride = (layer > 0 && i == 0) ? 2 : 1;
      const int p = planes[static_cast<size_t>(layer)];
      x = cfg.bottleneck ? bottleneck(b, block, x, p, stride, cfg) : basic_block(b, block, x, p, stride);
    }
  }
  x = b.global_avg_pool("avgpool", x);  // torchvision's AdaptiveAvgPool2d((1, 1))
  x = b.flatten("flatten", x);
  x = b.linear("fc", x, 1000);
  b.output(x);
  return b.finish();
}

}  // namespace

Model build_resnet18(const BuildOptions& options) { return build_resnet({"resnet18", false, {2, 2, 2, 2}}, options); }
Model build_resnet50(const BuildOptions& options) { return build_resnet({"resnet50", true, {3, 4, 6, 3}}, options); }
Model build_resnet152(const BuildOptions& options) { return build_resnet({"resnet152", true, {3, 8, 36, 3}}, options); }
Model build_resnext50_32x4d(const BuildOptions& options) {
  return build_resnet({"resnext50_32x4d", true, {3, 4, 6, 3}, 32, 4}, options);
}

}  // namespace dstack::models
