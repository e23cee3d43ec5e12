// conv2d_ref (im2col + blocked GEMM, pointwise and depthwise paths) against a direct 7-loop
// convolution accumulated in double.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "test/kernels/test_data.h"
#include "test/kernels/tolerance.h"

namespace dstack::kernels {
namespace {

using ktest::expect_close;
using ktest::random_vector;

// y[n, k, oh, ow] = act(sum_{ci, r, s} x[n, g*cpg + ci, ih, iw] * w[k, ci, r, s] + bias[k] + residual),
// ih = oh * stride_h - pad_top + r * dilation_h (likewise iw); taps outside the input contribute 0.
std::vector<float> naive_conv2d(const Conv2dShape& s, const std::vector<float>& x, const std::vector<float>& w,
                                const float* bias, const float* residual, ActivationParams act) {
  const int oh_size = s.out_h(), ow_size = s.out_w(), cpg = s.c / s.groups, kpg = s.k / s.groups;
  std::vector<float> y(size_t(s.n) * s.k * oh_size * ow_size);
  size_t out = 0;
  for (int n = 0; n < s.n; ++n)
    for (int k = 0; k < s.k; ++k)
      for (int oh = 0; oh < oh_size; ++oh)
        for (int ow = 0; ow < ow_size; ++ow, ++out) {
          const int g = k / kpg;
          double acc = 0.0;
          for (int ci = 0; ci < cpg; ++ci)
            for (int r = 0; r < s.r; ++r)
              for (int q = 0; q < s.s; ++q) {
                const int ih = oh * s.stride_h - s.pad_top + r * s.dilation_h;
                const int iw = ow * s.stride_w - s.pad_left + q * s.dilation_w;
                if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
                const float xv = x[((size_t(n) * s.c + g * cpg + ci) * s.h + ih) * s.w + iw];
                const float wv = w[((size_t(k) * cpg + ci) * s.r + r) * s.s + q];
                acc += double(xv) * double(wv);
              }
          float v = float(acc);
          if (bias) v += bias[k];
          if (residual) v += residual[out];
          y[out] = apply_activation(act, v);
        }
  return y;
}

struct ConvCase {
  std::string name;
  Conv2dShape shape;
  bool bias = true, residual = false;
  ActivationParams act = {};
};

Conv2dShape make_shape(int n, int c, int h, int w, int k, int r, int s) {
  Conv2dShape shape;
  shape.n = n, shape.c = c, shape.h = h, shape.w = w, shape.k = k, shape.r = r, shape.s = s;
  return shape;
}

std::vector<ConvCase> conv_cases() {
  std::vector<ConvCase> cases;
  const ActivationParams relu{Activation::Relu};
  {
    Conv2dShape s = make_shape(2, 3, 7, 5, 5, 3, 2);  // odd everything, stride 2, asymmetric pads
    s.stride_h = 2, s.pad_top = 1, s.pad_bottom = 2, s.pad_left = 0, s.pad_right = 1;
    cases.push_back({"odd_stride2_asym_pads", s, true, true, relu});
  }
  {
    Conv2dShape s = make_shape(1, 4, 9, 8, 6, 3, 3);
    s.dilation_h = s.dilation_w = 2, s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = 2;
    cases.push_back({"dilation2", s, true, false, {}});
  }
  {
    Conv2dShape s = make_shape(1, 3, 7, 5, 4, 2, 3);
    s.stride_h = 1, s.stride_w = 2, s.dilation_h = 2, s.pad_top = 0, s.pad_bottom = 3, s.pad_left = 2;
    cases.push_back({"dilation_stride_mixed_no_bias", s, false, true, {Activation::Silu}});
  }
  {
    Conv2dShape s = make_shape(2, 6, 7, 6, 9, 3, 3);
    s.groups = 3, s.stride_h = s.stride_w = 2, s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = 1;
    cases.push_back({"grouped", s, true, true, relu});
  }
  {
    Conv2dShape s = make_shape(2, 5, 7, 6, 5, 3, 3);
    s.groups = 5, s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = 1;
    cases.push_back({"depthwise_3x3", s, true, true, {Activation::Relu6}});
  }
  {
    Conv2dShape s = make_shape(1, 4, 9, 7, 4, 3, 2);
    s.groups = 4, s.stride_h = s.stride_w = 2, s.dilation_h = 2, s.pad_top = 2, s.pad_bottom = 1, s.pad_right = 1;
    cases.push_back({"depthwise_stride2_dilated_asym", s, true, false, {}});
  }
  {
    Conv2dShape s = make_shape(1, 4, 6, 5, 8, 3, 3);  // channel multiplier 2: the generic grouped path
    s.groups = 4, s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = 1;
    cases.push_back({"depthwise_multiplier2", s, true, false, relu});
  }
  cases.push_back({"pointwise", make_shape(2, 16, 5, 6, 7, 1, 1), true, true, {Activation::Clip, -0.5f, 0.5f}});
  {
    Conv2dShape s = make_shape(1, 16, 7, 7, 9, 1, 1);
    s.stride_h = s.stride_w = 2;  // 1x1 but strided: goes through im2col
    cases.push_back({"pointwise_stride2", s, true, false, {}});
  }
  {
    Conv2dShape s = make_shape(1, 5, 6, 7, 3, 1, 1);
    s.stride_h = 2;  // strided along h only
    cases.push_back({"pointwise_stride_h_only", s, true, false, {}});
  }
  {
    Conv2dShape s = make_shape(1, 3, 4, 5, 2, 1, 1);
    s.pad_bottom = 1;  // 1x1 padded on one side only: goes through im2col
    cases.push_back({"pointwise_padded", s, true, false, {}});
  }
  {
    Conv2dShape s = make_shape(1, 32, 14, 14, 42, 3, 3);  // k = 288 and m = 42 cross the GEMM blocks
    s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = 1;
    cases.push_back({"blocks_3x3", s, true, true, relu});
  }
  {
    Conv2dShape s = make_shape(1, 130, 17, 19, 13, 1, 1);  // n = 323 > block, k = 130 > block
    cases.push_back({"blocks_pointwise", s, true, false, {Activation::Gelu}});
  }
  {
    Conv2dShape s = make_shape(1, 2, 4, 3, 3, 5, 4);  // kernel exactly the padded input: 1x1 output
    s.pad_top = 1, s.pad_bottom = 0, s.pad_left = 0, s.pad_right = 1;
    cases.push_back({"kernel_equals_padded_input", s, true, false, {}});
  }
  return cases;
}

// Failure messages name the case instead of dumping its bytes.
void PrintTo(const ConvCase& tc, std::ostream* os) { *os << tc.name; }

class Conv2dRef : public ::testing::TestWithParam<ConvCase> {};

TEST_P(Conv2dRef, MatchesDirectConvolution) {
  const ConvCase& tc = GetParam();
  const Conv2dShape& s = tc.shape;
  ASSERT_EQ(conv2d_shape_error(s), nullptr);
  const int64_t y_count = int64_t(s.n) * s.k * s.out_h() * s.out_w();
  const auto x = random_vector(int64_t(s.n) * s.c * s.h * s.w, 1);
  const auto w = random_vector(int64_t(s.k) * s.c_per_group() * s.r * s.s, 2);
  const auto bias = random_vector(s.k, 3);
  const auto residual = random_vector(y_count, 4);
  const float* bias_p = tc.bias ? bias.data() : nullptr;
  const float* res_p = tc.residual ? residual.data() : nullptr;

  std::vector<float> y(size_t(y_count), -7.f);
  conv2d_ref(s, x.data(), w.data(), bias_p, res_p, tc.act, y.data());
  expect_close(naive_conv2d(s, x, w, bias_p, res_p, tc.act), y, ktest::kGemmAtol, ktest::kGemmRtol);
}

INSTANTIATE_TEST_SUITE_P(Shapes, Conv2dRef, ::testing::ValuesIn(conv_cases()),
                         [](const ::testing::TestParamInfo<ConvCase>& case_info) { return case_info.param.name; });

TEST(Conv2dShape, OutputSizesAndMacs) {
  Conv2dShape s = make_shape(1, 64, 56, 56, 64, 3, 3);
  s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = 1;
  EXPECT_EQ(s.out_h(), 56);
  EXPECT_EQ(s.out_w(), 56);
  EXPECT_EQ(s.macs(), int64_t(64) * 56 * 56 * 64 * 9);
  Conv2dShape t = make_shape(1, 3, 224, 224, 64, 7, 7);  // ResNet stem
  t.stride_h = t.stride_w = 2, t.pad_top = t.pad_left = t.pad_bottom = t.pad_right = 3;
  EXPECT_EQ(t.out_h(), 112);
}

TEST(Conv2dShape, ErrorsNameTheProblem) {
  const Conv2dShape ok = make_shape(1, 4, 5, 5, 6, 3, 3);
  EXPECT_EQ(conv2d_shape_error(ok), nullptr);

  auto error_of = [&](auto mutate) {
    Conv2dShape s = ok;
    mutate(s);
    const char* e = conv2d_shape_error(s);
    return std::string(e ? e : "(valid)");
  };
  EXPECT_EQ(error_of([](Conv2dShape& s) { s.groups = 3; }), "groups must divide both input and output channels");
  EXPECT_EQ(error_of([](Conv2dShape& s) { s.groups = 4; }), "groups must divide both input and output channels");
  EXPECT_EQ(error_of([](Conv2dShape& s) { s.groups = 0; }), "groups must divide both input and output channels");
  EXPECT_EQ(error_of([](Conv2dShape& s) { s.r = 6; }), "kernel larger than padded input");
  EXPECT_EQ(error_of([](Conv2dShape& s) { s.dilation_w = 3; }), "kernel larger than padded input");
  EXPECT_EQ(error_of([](Conv2dShape& s) { s.r = 6, s.pad_top = 1; }), "(valid)");
  EXPECT_EQ(error_of([](Conv2dShape& s) { s.stride_w = 0; }), "stride must be >= 1");
  EXPECT_EQ(error_of([](Conv2dShape& s) { s.dilation_h = 0; }), "dilation must be >= 1");
  EXPECT_EQ(error_of([](Conv2dShape& s) { s.pad_left = -1; }), "padding must be >= 0");
  EXPECT_EQ(error_of([](Conv2dShape& s) { s.c = 0; }), "batch, channels and spatial dims must be >= 1");
  EXPECT_EQ(error_of([](Conv2dShape& s) { s.s = 0; }), "filter dims must be >= 1");
}

}  // namespace
}  // namespace dstack::kernels
