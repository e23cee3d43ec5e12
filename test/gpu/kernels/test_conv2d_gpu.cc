// conv2d_cuda (implicit GEMM and depthwise kernels) against the CPU reference conv2d_ref, on seeded
// random inputs: odd shapes, strides, dilations, asymmetric pads, groups, depthwise, 1x1, a ResNet
// stem and a ResNet 3x3 layer, with and without bias/residual, every activation.
//
// Tolerance: atol 1e-4, rtol 1e-4. Weights are scaled by 1/sqrt(K) (K = (c/groups)*r*s <= 576 here),
// so outputs are O(1); the two float sums differ only in order (and FMA contraction), a few ulps
// times sqrt(K) on typical elements, well inside 1e-4.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/conv2d_cuda.h"
#include "runtime/backend/cuda/check.h"
#include "runtime/backend/cuda/resources.h"
#include "test/gpu/device_data.h"
#include "test/gpu/gpu_test_env.h"
#include "test/kernels/test_data.h"
#include "test/kernels/tolerance.h"

namespace dstack::kernels {
namespace {

using dstack::test::upload;

using cuda::DeviceBuffer;
using ktest::expect_close;
using ktest::random_vector;

constexpr float kAtol = 1e-4f;
constexpr float kRtol = 1e-4f;

Conv2dShape make_shape(int n, int c, int h, int w, int k, int r, int s) {
  Conv2dShape shape;
  shape.n = n, shape.c = c, shape.h = h, shape.w = w, shape.k = k, shape.r = r, shape.s = s;
  return shape;
}

Conv2dShape pad(Conv2dShape s, int top, int left, int bottom, int right) {
  s.pad_top = top, s.pad_left = left, s.pad_bottom = bottom, s.pad_right = right;
  return s;
}

struct Result {
  std::vector<float> ref, got;
};

// Runs conv2d_cuda and conv2d_ref on the same seeded inputs.
Result run_both(const Conv2dShape& s, bool with_bias, bool with_residual, ActivationParams act, uint32_t seed) {
  const int64_t x_count = int64_t(s.n) * s.c * s.h * s.w;
  const int64_t gemm_k = conv2d_gemm_reduction(s);
  const int64_t w_count = int64_t(s.k) * gemm_k;
  const int64_t y_count = conv2d_output_count(s);
  const auto x = random_vector(x_count, seed);
  auto w = random_vector(w_count, seed + 1);
  const float scale = 1.f / std::sqrt(float(gemm_k));
  for (float& v : w) v *= scale;
  const auto bias = random_vector(s.k, seed + 2);
  const auto residual = random_vector(y_count, seed + 3);

  Result result;
  result.ref.assign(size_t(y_count), 0.f);
  conv2d_ref(s, x.data(), w.data(), with_bias ? bias.data() : nullptr, with_residual ? residual.data() : nullptr,
             act, result.ref.data());

  const DeviceBuffer x_d = upload(x), w_d = upload(w), bias_d = upload(bias), res_d = upload(residual);
  // y starts as NaN so that an element the kernel never writes fails the comparison.
  const DeviceBuffer y_d = upload(std::vector<float>(size_t(y_count), std::nanf("")));
  cuda::Stream stream;
  conv2d_cuda(s, x_d.as<float>(), w_d.as<float>(), with_bias ? bias_d.as<float>() : nullptr,
              with_residual ? res_d.as<float>() : nullptr, act, y_d.as<float>(), stream.get());
  stream.synchronize();
  DSTACK_CUDA_CHECK(cudaGetLastError());
  result.got.assign(size_t(y_count), 0.f);
  DSTACK_CUDA_CHECK(cudaMemcpy(result.got.data(), y_d.data(), size_t(y_count) * sizeof(float), cudaMemcpyDeviceToHost));
  return result;
}

struct GpuConvCase {
  std::string name;
  Conv2dShape shape;
  bool bias = true, residual = false;
  ActivationParams act = {};
  Conv2dAlgorithm algorithm = Conv2dAlgorithm::ImplicitGemm;  // the kernel the shape must take
};

std::vector<GpuConvCase> gpu_cases() {
  const ActivationParams relu{Activation::Relu};
  const auto dw = Conv2dAlgorithm::Depthwise;
  std::vector<GpuConvCase> cases;
  {
    Conv2dShape s = pad(make_shape(2, 3, 7, 5, 5, 3, 2), 1, 0, 2, 1);  // odd everything, stride 2, asym pads
    s.stride_h = s.stride_w = 2;
    cases.push_back({"odd_stride2_asym_pads", s, true, true, relu});
    cases.push_back({"odd_stride2_asym_pads_plain", s, false, false, {}});
  }
  {
    Conv2dShape s = pad(make_shape(1, 4, 9, 8, 6, 3, 3), 2, 2, 2, 2);
    s.dilation_h = s.dilation_w = 2;
    cases.push_back({"dilation2", s, true, false, {}});
  }
  {
    Conv2dShape s = pad(make_shape(2, 3, 7, 5, 4, 2, 3), 0, 2, 3, 0);
    s.stride_w = 2, s.dilation_h = 2;
    cases.push_back({"dilation_stride_mixed_no_bias", s, false, true, {Activation::Silu}});
  }
  {
    Conv2dShape s = pad(make_shape(2, 6, 7, 6, 9, 3, 3), 1, 1, 1, 1);
    s.groups = 3, s.stride_h = s.stride_w = 2;
    cases.push_back({"grouped3", s, true, true, relu});
  }
  {
    Conv2dShape s = pad(make_shape(2, 128, 14, 14, 128, 3, 3), 1, 1, 1, 1);  // ResNeXt: 32 groups x 4
    s.groups = 32;
    cases.push_back({"resnext_32_groups", s, true, true, relu});
  }
  {
    Conv2dShape s = pad(make_shape(1, 64, 10, 9, 160, 3, 3), 1, 1, 1, 1);  // 80 per group: 2 M tiles
    s.groups = 2;
    cases.push_back({"grouped2_ragged_m", s, true, false, {Activation::Relu6}});
  }
  {
    Conv2dShape s = pad(make_shape(2, 5, 7, 6, 5, 3, 3), 1, 1, 1, 1);
    s.groups = 5;
    cases.push_back({"depthwise_3x3", s, true, true, {Activation::Relu6}, dw});
  }
  {
    Conv2dShape s = pad(make_shape(1, 4, 9, 7, 4, 3, 2), 2, 0, 1, 1);
    s.groups = 4, s.stride_h = s.stride_w = 2, s.dilation_h = 2;
    cases.push_back({"depthwise_stride2_dilated_asym", s, false, false, {}, dw});
  }
  {
    Conv2dShape s = pad(make_shape(2, 96, 28, 28, 96, 5, 5), 2, 2, 2, 2);  // MobileNet/EfficientNet-like
    s.groups = 96, s.stride_h = s.stride_w = 2;
    cases.push_back({"depthwise_5x5_stride2", s, true, false, {Activation::Silu}, dw});
  }
  {
    Conv2dShape s = pad(make_shape(1, 4, 6, 5, 8, 3, 3), 1, 1, 1, 1);  // channel multiplier 2
    s.groups = 4;
    cases.push_back({"depthwise_multiplier2", s, true, false, relu});
  }
  cases.push_back({"pointwise", make_shape(2, 16, 5, 6, 7, 1, 1), true, true, {Activation::Clip, -0.5f, 0.5f}});
  cases.push_back({"pointwise_blocks", make_shape(1, 130, 17, 19, 70, 1, 1), true, false, {Activation::Gelu}});
  {
    Conv2dShape s = make_shape(1, 16, 7, 7, 9, 1, 1);
    s.stride_h = s.stride_w = 2;
    cases.push_back({"pointwise_stride2", s, true, false, {}});
  }
  {
    Conv2dShape s = pad(make_shape(1, 3, 61, 61, 64, 7, 7), 3, 3, 3, 3);  // ResNet stem on 3x61x61
    s.stride_h = s.stride_w = 2;
    cases.push_back({"stem_7x7_stride2", s, true, false, relu});
  }
  {
    Conv2dShape s = pad(make_shape(1, 64, 56, 56, 64, 3, 3), 1, 1, 1, 1);  // ResNet layer1 3x3
    cases.push_back({"resnet_64x56x56_3x3", s, true, true, relu});
  }
  {
    Conv2dShape s = pad(make_shape(1, 2, 4, 3, 3, 5, 4), 1, 0, 0, 1);  // kernel == padded input: 1x1 output
    cases.push_back({"kernel_equals_padded_input", s, true, false, {}});
  }
  cases.push_back({"single_channel_depthwise", make_shape(1, 1, 5, 4, 1, 2, 2), true, true, {}, dw});
  return cases;
}

void PrintTo(const GpuConvCase& tc, std::ostream* os) { *os << tc.name; }

class Conv2dGpu : public ::testing::TestWithParam<GpuConvCase> {};

TEST_P(Conv2dGpu, MatchesConv2dRef) {
  DSTACK_REQUIRE_GPU();
  const GpuConvCase& tc = GetParam();
  ASSERT_EQ(conv2d_shape_error(tc.shape), nullptr);
  ASSERT_EQ(conv2d_algorithm(tc.shape), tc.algorithm);
  const Result r = run_both(tc.shape, tc.bias, tc.residual, tc.act, 11);
  expect_close(r.ref, r.got, kAtol, kRtol);
}

INSTANTIATE_TEST_SUITE_P(Shapes, Conv2dGpu, ::testing::ValuesIn(gpu_cases()),
                         [](const ::testing::TestParamInfo<GpuConvCase>& case_info) { return case_info.param.name; });

// Every activation through both kernels' epilogues, with bias and residual.
TEST(Conv2dGpuEpilogue, EveryActivationBothKernels) {
  DSTACK_REQUIRE_GPU();
  Conv2dShape gemm = pad(make_shape(2, 6, 9, 7, 10, 3, 3), 1, 0, 1, 2);
  gemm.stride_w = 2;
  Conv2dShape depthwise = pad(make_shape(2, 6, 9, 7, 6, 3, 3), 0, 1, 2, 1);
  depthwise.groups = 6;
  const ActivationParams acts[] = {{Activation::None},  {Activation::Relu},    {Activation::Relu6},
                                   {Activation::Clip, -0.3f, 0.4f},           {Activation::Gelu},
                                   {Activation::Sigmoid}, {Activation::Silu}, {Activation::Tanh}};
  for (const Conv2dShape& s : {gemm, depthwise}) {
    for (const ActivationParams& act : acts) {
      SCOPED_TRACE(std::string(conv2d_algorithm_name(conv2d_algorithm(s))) + " " +
                   std::string(activation_name(act.kind)));
      for (int mask = 0; mask < 4; ++mask) {
        const Result r = run_both(s, (mask & 1) != 0, (mask & 2) != 0, act, 100u + unsigned(mask));
        expect_close(r.ref, r.got, kAtol, kRtol);
      }
    }
  }
}

// The launcher is asynchronous on the given stream, also the legacy default stream.
TEST(Conv2dGpuLaunch, DefaultStream) {
  DSTACK_REQUIRE_GPU();
  const Conv2dShape s = pad(make_shape(1, 3, 8, 8, 4, 3, 3), 1, 1, 1, 1);
  const auto x = random_vector(3 * 8 * 8, 7), w = random_vector(4 * 27, 8);
  std::vector<float> ref(size_t(conv2d_output_count(s)));
  conv2d_ref(s, x.data(), w.data(), nullptr, nullptr, {}, ref.data());
  const DeviceBuffer x_d = upload(x), w_d = upload(w);
  DeviceBuffer y_d(ref.size() * sizeof(float));
  conv2d_cuda(s, x_d.as<float>(), w_d.as<float>(), nullptr, nullptr, {}, y_d.as<float>(), nullptr);
  std::vector<float> got(ref.size());
  DSTACK_CUDA_CHECK(cudaMemcpy(got.data(), y_d.data(), got.size() * sizeof(float), cudaMemcpyDeviceToHost));
  expect_close(ref, got, kAtol, kRtol);
}

TEST(Conv2dGpuLaunch, RejectsInvalidArguments) {
  DSTACK_REQUIRE_GPU();
  DeviceBuffer buf(1024 * sizeof(float));
  float* p = buf.as<float>();
  Conv2dShape bad = make_shape(1, 4, 5, 5, 6, 3, 3);
  bad.groups = 3;  // does not divide c
  EXPECT_THROW(conv2d_cuda(bad, p, p, nullptr, nullptr, {}, p, nullptr), std::invalid_argument);
  Conv2dShape too_big = make_shape(1, 4, 5, 5, 6, 7, 3);  // kernel larger than the input
  EXPECT_THROW(conv2d_cuda(too_big, p, p, nullptr, nullptr, {}, p, nullptr), std::invalid_argument);
  const Conv2dShape ok = make_shape(1, 2, 4, 4, 2, 3, 3);
  EXPECT_THROW(conv2d_cuda(ok, nullptr, p, nullptr, nullptr, {}, p, nullptr), std::invalid_argument);
  EXPECT_THROW(conv2d_cuda(ok, p, p, nullptr, nullptr, {}, nullptr, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace dstack::kernels
