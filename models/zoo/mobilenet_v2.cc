// MobileNetV2 as torchvision defines it (torchvision/models/mobilenetv2.py, width 1.0): inverted
// residual blocks of 1x1 expansion, 3x3 depthwise and 1x1 linear projection, each convolution
// followed by a batch-norm (folded) and ReLU6, except the projection, which has no activation.
#include <array>
#include <string>

#include "models/builder.h"
#include "models/zoo/zoo_models.h"

namespace dstack::models {

namespace {

constexpr ActivationParams kRelu6{Activation::Relu6};

ConvSpec conv_bn(int out, int kernel, int stride, ActivationParams act, int groups = 1) {
  ConvSpec c = ConvSpec::square(out, kernel, stride, (kernel - 1) / 2);
  c.groups = groups;
  c.act = act;
  return c;
}

// features.<index>: expansion (when t != 1), depthwise, projection. The residual add is fused into
// the projection when the block keeps its shape (stride 1, in == out), as torchvision's
// use_res_connect. Layer names are torchvision's: conv.0/conv.1 are Conv2dNormActivation blocks,
// then the projection's conv (the batch-norm after it is folded).
int inverted_residual(ModelBuilder& b, const std::string& block, int x, int out, int stride, int expand_ratio) {
  const int in = static_cast<int>(b.shape(x).at(0));
  const int hidden = in * expand_ratio;
  const bool residual = stride == 1 && in == out;
  int y = x;
  int index = 0;
  if (expand_ratio != 1) y = b.conv(block + ".conv." + std::to_string(index++), y, conv_bn(hidden, 1, 1, kRelu6));
  y = b.conv(block + ".conv." + std::to_string(index++), y, conv_bn(hidden, 3, stride, kRelu6, hidden));
  return b.conv(block + ".conv." + std::to_string(index), y, conv_bn(out, 1, 1, {}), residual ? x : -1);
}

struct Stage {
  int t, c, n, s;  // expansion, output channels, repeats, stride of the first repeat
};

}  // namespace

Model build_mobilenet_v2(const BuildOptions& options) {
  ModelBuilder b("mobilenet_v2", options);
  // torchvision's inverted_residual_setting; with width 1.0 _make_divisible leaves every channel
  // count as written.
  constexpr std::array<Stage, 7> stages{{
      {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1},
  }};
  int x = b.input("input", {3, 224, 224});
  x = b.conv("features.0", x, conv_bn(32, 3, 2, kRelu6));  // 32 x 112 x 112
  int index = 1;
  for (const Stage& st : stages)
    for (int i = 0; i < st.n; ++i)
      x = inverted_residual(b, "features." + std::to_string(index++), x, st.c, i == 0 ? st.s : 1, st.t);
  x = b.conv("features." + std::to_string(index), x, conv_bn(1280, 1, 1, kRelu6));  // features.18: 1280 x 7 x 7
  x = b.global_avg_pool("avgpool", x);  // the forward's adaptive_avg_pool2d(x, (1, 1))
  x = b.flatten("flatten", x);
  x = b.linear("classifier.1", x, 1000);  // classifier.0 is dropout, the identity at inference
  b.output(x);
  return b.finish();
}

}  // namespace dstack::models
