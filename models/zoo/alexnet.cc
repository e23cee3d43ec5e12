// AlexNet as torchvision defines it (torchvision/models/alexnet.py): five convolutions with their
// own biases and no batch-norm, three max-pools, three fully connected layers.
#include "models/builder.h"
#include "models/zoo/zoo_models.h"

namespace dstack::models {

namespace {

// A convolution with a bias and ReLU, no batch-norm (AlexNet predates it).
ConvSpec conv_relu(int out, int kernel, int stride, int pad) {
  ConvSpec c = ConvSpec::square(out, kernel, stride, pad);
  c.bias = true;
  c.batch_norm = false;
  return c;
}

}  // namespace

Model build_alexnet(const BuildOptions& options) {
  ModelBuilder b("alexnet", options);
  const ActivationParams relu{Activation::Relu};
  // Names follow torchvision's module paths (features.<i>, classifier.<i>); each fused ReLU takes
  // the name of the convolution or linear layer it follows.
  int x = b.input("input", {3, 224, 224});
  x = b.conv("features.0", x, conv_relu(64, 11, 4, 2));     // 64 x 55 x 55
  x = b.max_pool("features.2", x, 3, 2, 0);                 // 64 x 27 x 27
  x = b.conv("features.3", x, conv_relu(192, 5, 1, 2));     // 192 x 27 x 27
  x = b.max_pool("features.5", x, 3, 2, 0);                 // 192 x 13 x 13
  x = b.conv("features.6", x, conv_relu(384, 3, 1, 1));
  x = b.conv("features.8", x, conv_relu(256, 3, 1, 1));
  x = b.conv("features.10", x, conv_relu(256, 3, 1, 1));
  x = b.max_pool("features.12", x, 3, 2, 0);                // 256 x 6 x 6
  // torchvision's AdaptiveAvgPool2d((6, 6)) is the identity at a 224x224 input (the features are
  // already 6x6), so it is omitted. Dropout is omitted too: it is the identity at inference.
  x = b.flatten("flatten", x);                              // 9216
  x = b.linear("classifier.1", x, 4096, relu);
  x = b.linear("classifier.4", x, 4096, relu);
  x = b.linear("classifier.6", x, 1000);
  b.output(x);
  return b.finish();
}

}  // namespace dstack::models
