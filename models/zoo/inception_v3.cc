// Inception-v3 as torchvision defines it (torchvision/models/inception.py) with aux_logits=False:
// the auxiliary classifier only exists for training, so it is not built. transform_input (a fixed
// per-channel affine of the input) is False when torchvision builds the model without weights; it
// has no parameters, and it is not built either. Every BasicConv2d is a convolution without bias
// followed by a batch-norm (folded) and ReLU. Branches are concatenated in torchvision's order.
#include <string>

#include "models/builder.h"
#include "models/zoo/zoo_models.h"

namespace dstack::models {

namespace {

// torchvision's BasicConv2d with a kernel of kh x kw, symmetric padding ph x pw.
int basic_conv(ModelBuilder& b, const std::string& name, int x, int out, int kh, int kw, int stride = 1, int ph = 0,
               int pw = 0) {
  ConvSpec c;
  c.out_channels = out;
  c.kernel_h = kh, c.kernel_w = kw;
  c.stride_h = c.stride_w = stride;
  c.pad_h = ph, c.pad_w = pw;
  return b.conv(name, x, c);
}

// The 3x3 stride-1 average pool ahead of a branch_pool convolution (F.avg_pool2d's default
// count_include_pad=True).
int pool_branch(ModelBuilder& b, const std::string& m, int x, int out) {
  int p = b.avg_pool(m + ".branch_pool.avg_pool", x, 3, 1, 1, true);
  return basic_conv(b, m + ".branch_pool", p, out, 1, 1);
}

int inception_a(ModelBuilder& b, const std::string& m, int x, int pool_features) {
  int b1 = basic_conv(b, m + ".branch1x1", x, 64, 1, 1);
  int b5 = basic_conv(b, m + ".branch5x5_1", x, 48, 1, 1);
  b5 = basic_conv(b, m + ".branch5x5_2", b5, 64, 5, 5, 1, 2, 2);
  int b3 = basic_conv(b, m + ".branch3x3dbl_1", x, 64, 1, 1);
  b3 = basic_conv(b, m + ".branch3x3dbl_2", b3, 96, 3, 3, 1, 1, 1);
  b3 = basic_conv(b, m + ".branch3x3dbl_3", b3, 96, 3, 3, 1, 1, 1);
  int bp = pool_branch(b, m, x, pool_features);
  return b.concat(m, {b1, b5, b3, bp});
}

int inception_b(ModelBuilder& b, const std::string& m, int x) {
  int b3 = basic_conv(b, m + ".branch3x3", x, 384, 3, 3, 2);
  int bd = basic_conv(b, m + ".branch3x3dbl_1", x, 64, 1, 1);
  bd = basic_conv(b, m + ".branch3x3dbl_2", bd, 96, 3, 3, 1, 1, 1);
  bd = basic_conv(b, m + ".branch3x3dbl_3", bd, 96, 3, 3, 2);
  int bp = b.max_pool(m + ".branch_pool", x, 3, 2, 0);
  return b.concat(m, {b3, bd, bp});
}

int inception_c(ModelBuilder& b, const std::string& m, int x, int c7) {
  int b1 = basic_conv(b, m + ".branch1x1", x, 192, 1, 1);
  int b7 = basic_conv(b, m + ".branch7x7_1", x, c7, 1, 1);
  b7 = basic_conv(b, m + ".branch7x7_2", b7, c7, 1, 7, 1, 0, 3);
  b7 = basic_conv(b, m + ".branch7x7_3", b7, 192, 7, 1, 1, 3, 0);
  int bd = basic_conv(b, m + ".branch7x7dbl_1", x, c7, 1, 1);
  bd = basic_conv(b, m + ".branch7x7dbl_2", bd, c7, 7, 1, 1, 3, 0);
  bd = basic_conv(b, m + ".branch7x7dbl_3", bd, c7, 1, 7, 1, 0, 3);
  bd = basic_conv(b, m + ".branch7x7dbl_4", bd, c7, 7, 1, 1, 3, 0);
  bd = basic_conv(b, m + ".branch7x7dbl_5", bd, 192, 1, 7, 1, 0, 3);
  int bp = pool_branch(b, m, x, 192);
  return b.concat(m, {b1, b7, bd, bp});
}

int inception_d(ModelBuilder& b, const std::string& m, int x) {
  int b3 = basic_conv(b, m + ".branch3x3_1", x, 192, 1, 1);
  b3 = basic_conv(b, m + ".branch3x3_2", b3, 320, 3, 3, 2);
  int b7 = basic_conv(b, m + ".branch7x7x3_1", x, 192, 1, 1);
  b7 = basic_conv(b, m + ".branch7x7x3_2", b7, 192, 1, 7, 1, 0, 3);
  b7 = basic_conv(b, m + ".branch7x7x3_3", b7, 192, 7, 1, 1, 3, 0);
  b7 = basic_conv(b, m + ".branch7x7x3_4", b7, 192, 3, 3, 2);
  int bp = b.max_pool(m + ".branch_pool", x, 3, 2, 0);
  return b.concat(m, {b3, b7, bp});
}

int inception_e(ModelBuilder& b, const std::string& m, int x) {
  int b1 = basic_conv(b, m + ".branch1x1", x, 320, 1, 1);
  int b3 = basic_conv(b, m + ".branch3x3_1", x, 384, 1, 1);
  int b3a = basic_conv(b, m + ".branch3x3_2a", b3, 384, 1, 3, 1, 0, 1);
  int b3b = basic_conv(b, m + ".branch3x3_2b", b3, 384, 3, 1, 1, 1, 0);
  b3 = b.concat(m + ".branch3x3", {b3a, b3b});
  int bd = basic_conv(b, m + ".branch3x3dbl_1", x, 448, 1, 1);
  bd = basic_conv(b, m + ".branch3x3dbl_2", bd, 384, 3, 3, 1, 1, 1);
  int bda = basic_conv(b, m + ".branch3x3dbl_3a", bd, 384, 1, 3, 1, 0, 1);
  int bdb = basic_conv(b, m + ".branch3x3dbl_3b", bd, 384, 3, 1, 1, 1, 0);
  bd = b.concat(m + ".branch3x3dbl", {bda, bdb});
  int bp = pool_branch(b, m, x, 192);
  return b.concat(m, {b1, b3, bd, bp});
}

}  // namespace

Model build_inception_v3(const BuildOptions& options) {
  ModelBuilder b("inception_v3", options);
  // Names are torchvision's module paths; each Mixed_* block's output is its concat.
  int x = b.input("input", {3, 299, 299});
  x = basic_conv(b, "Conv2d_1a_3x3", x, 32, 3, 3, 2);        // 32 x 149 x 149
  x = basic_conv(b, "Conv2d_2a_3x3", x, 32, 3, 3);           // 32 x 147 x 147
  x = basic_conv(b, "Conv2d_2b_3x3", x, 64, 3, 3, 1, 1, 1);  // 64 x 147 x 147
  x = b.max_pool("maxpool1", x, 3, 2, 0);                    // 64 x 73 x 73
  x = basic_conv(b, "Conv2d_3b_1x1", x, 80, 1, 1);           // 80 x 73 x 73
  x = basic_conv(b, "Conv2d_4a_3x3", x, 192, 3, 3);          // 192 x 71 x 71
  x = b.max_pool("maxpool2", x, 3, 2, 0);                    // 192 x 35 x 35
  x = inception_a(b, "Mixed_5b", x, 32);                     // 256 x 35 x 35
  x = inception_a(b, "Mixed_5c", x, 64);                     // 288 x 35 x 35
  x = inception_a(b, "Mixed_5d", x, 64);                     // 288 x 35 x 35
  x = inception_b(b, "Mixed_6a", x);                         // 768 x 17 x 17
  x = inception_c(b, "Mixed_6b", x, 128);
  x = inception_c(b, "Mixed_6c", x, 160);
  x = inception_c(b, "Mixed_6d", x, 160);
  x = inception_c(b, "Mixed_6e", x, 192);                    // 768 x 17 x 17 (the aux head would branch here)
  x = inception_d(b, "Mixed_7a", x);                         // 1280 x 8 x 8
  x = inception_e(b, "Mixed_7b", x);                         // 2048 x 8 x 8
  x = inception_e(b, "Mixed_7c", x);                         // 2048 x 8 x 8
  x = b.global_avg_pool("avgpool", x);                       // AdaptiveAvgPool2d((1, 1))
  x = b.flatten("flatten", x);                               // dropout before fc: identity at inference
  x = b.linear("fc", x, 1000);
  b.output(x);
  return b.finish();
}

}  // namespace dstack::models
