// conv2d_cuda (implicit GEMM and depthwise kernels) against the CPU reference conv2d_ref, on seeded
// random inputs: odd shapes, strides, dilations, asymmetric pads, groups, depthwise, 1x1, a ResNet
// stem and a ResNet 3x3 layer, with and without bias/residual, every activation; each at fp32 (SIMT
// implicit GEMM), fp16 and bf16 (tensor-core implicit GEMM; depthwise stays the direct kernel).
// Inputs are generated in fp32 and rounded to the storage type; the reference runs on the rounded
// values and the GPU result is widened back to fp32.
//
// Tolerance: fp32 atol 1e-4, rtol 1e-4. Weights are scaled by 1/sqrt(K) (K = (c/groups)*r*s <= 576
// here), so outputs are O(1); the two float sums differ only in order (and FMA contraction), a few
// ulps times sqrt(K) on typical elements, well inside 1e-4. fp16 / bf16: ktest::reduction_tolerance
// with max|w| = 1/sqrt(K), i.e. the short-reduction tolerance (test/kernels/tolerance.h says why).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <ostream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
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

using dstack::test::download_as_float;
using dstack::test::kAllPrecisions;
using dstack::test::rounded;
using dstack::test::upload_as;
using dstack::test::with_storage_type;

using cuda::DeviceBuffer;
using ktest::expect_close;
using ktest::random_vector;

constexpr float kAtol = 1e-4f;
constexpr float kRtol = 1e-4f;

ktest::Tolerance tolerance(Precision p, const Conv2dShape& s) {
  const int64_t k = conv2d_gemm_reduction(s);
  return ktest::reduction_tolerance(p, {kAtol, kRtol}, k, 1.f, 1.f / std::sqrt(float(k)));
}

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

// Runs conv2d_cuda<T> and conv2d_ref on the same seeded inputs (rounded to T).
template <typename T>
Result run_both(const Conv2dShape& s, bool with_bias, bool with_residual, ActivationParams act, uint32_t seed) {
  const int64_t x_count = int64_t(s.n) * s.c * s.h * s.w;
  const int64_t gemm_k = conv2d_gemm_reduction(s);
  const int64_t w_count = int64_t(s.k) * gemm_k;
  const int64_t y_count = conv2d_output_count(s);
  const auto x = rounded<T>(random_vector(x_count, seed));
  auto w = random_vector(w_count, seed + 1);
  const float scale = 1.f / std::sqrt(float(gemm_k));
  for (float& v : w) v *= scale;
  w = rounded<T>(std::move(w));
  const auto bias = rounded<T>(random_vector(s.k, seed + 2));
  const auto residual = rounded<T>(random_vector(y_count, seed + 3));

  Result result;
  result.ref.assign(size_t(y_count), 0.f);
  conv2d_ref(s, x.data(), w.data(), with_bias ? bias.data() : nullptr, with_residual ? residual.data() : nullptr,
             act, result.ref.data());

  const DeviceBuffer x_d = upload_as<T>(x), w_d = upload_as<T>(w), bias_d = upload_as<T>(bias),
                     res_d = upload_as<T>(residual);
  // y starts as NaN so that an element the kernel never writes fails the comparison.
  const DeviceBuffer y_d = dstack::test::poisoned_as<T>(size_t(y_count));
  cuda::Stream stream;
  conv2d_cuda(s, x_d.as<T>(), w_d.as<T>(), with_bias ? bias_d.as<T>() : nullptr,
              with_residual ? res_d.as<T>() : nullptr, act, y_d.as<T>(), stream.get());
  stream.synchronize();
  DSTACK_CUDA_CHECK(cudaGetLastError());
  result.got = download_as_float<T>(y_d, size_t(y_count));
  return result;
}

Result run_both(Precision p, const Conv2dShape& s, bool with_bias, bool with_residual, ActivationParams act,
                uint32_t seed) {
  Result r;
  with_storage_type(p, [&]<typename T>() { r = run_both<T>(s, with_bias, with_residual, act, seed); });
  return r;
}

struct GpuConvCase {
  std::string name;
  Conv2dShape shape;
  bool bias = true, residual = false;
  ActivationParams act = {};
  Conv2dAlgorithm algorithm = Conv2dAlgorithm::ImplicitGemm;  // the kernel the shape must take at fp32
};

// The kernel a case takes at precision p: the implicit GEMM turns tensor-core at fp16 / bf16.
Conv2dAlgorithm expected_algorithm(const GpuConvCase& tc, Precision p) {
  if (tc.algorithm == Conv2dAlgorithm::ImplicitGemm && p != Precision::F32)
    return Conv2dAlgorithm::ImplicitGemmTensorCore;
  return tc.algorithm;
}

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
  // Tensor-core boundary paths: K below one fragment, K just past a 32-wide k step, M and N odd.
  cases.push_back({"k9_below_one_fragment", pad(make_shape(2, 1, 9, 7, 7, 3, 3), 1, 1, 1, 1), true, true, relu});
  cases.push_back({"k33_m17_n_odd", make_shape(3, 33, 5, 7, 17, 1, 1), true, false, {}});
  {
    Conv2dShape s = pad(make_shape(1, 12, 9, 10, 18, 3, 3), 1, 2, 0, 1);  // grouped, strided, dilated
    s.groups = 3, s.stride_h = 2, s.dilation_w = 2;
    cases.push_back({"grouped3_stride_dilation_asym", s, true, true, {Activation::Tanh}});
  }
  return cases;
}

void PrintTo(const GpuConvCase& tc, std::ostream* os) { *os << tc.name; }

class Conv2dGpu : public ::testing::TestWithParam<std::tuple<GpuConvCase, Precision>> {};

TEST_P(Conv2dGpu, MatchesConv2dRef) {
  DSTACK_REQUIRE_GPU();
  const auto& [tc, precision] = GetParam();
  ASSERT_EQ(conv2d_shape_error(tc.shape), nullptr);
  ASSERT_EQ(conv2d_algorithm(tc.shape, precision), expected_algorithm(tc, precision));
  const Result r = run_both(precision, tc.shape, tc.bias, tc.residual, tc.act, 11);
  expect_close(r.ref, r.got, tolerance(precision, tc.shape));
}

INSTANTIATE_TEST_SUITE_P(Shapes, Conv2dGpu,
                         ::testing::Combine(::testing::ValuesIn(gpu_cases()), ::testing::ValuesIn(kAllPrecisions)),
                         [](const ::testing::TestParamInfo<std::tuple<GpuConvCase, Precision>>& param_info) {
                           return std::get<0>(param_info.param).name + "_" +
                                  precision_name(std::get<1>(param_info.param));
                         });

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
  for (Precision p : kAllPrecisions)
    for (const Conv2dShape& s : {gemm, depthwise}) {
      for (const ActivationParams& act : acts) {
        SCOPED_TRACE(std::string(precision_name(p)) + " " + conv2d_algorithm_name(conv2d_algorithm(s, p)) + " " +
                     std::string(activation_name(act.kind)));
        for (int mask = 0; mask < 4; ++mask) {
          const Result r = run_both(p, s, (mask & 1) != 0, (mask & 2) != 0, act, 100u + unsigned(mask));
          expect_close(r.ref, r.got, tolerance(p, s));
        }
      }
    }
}

// The launcher is asynchronous on the given stream, also the legacy default stream.
TEST(Conv2dGpuLaunch, DefaultStream) {
  DSTACK_REQUIRE_GPU();
  const Conv2dShape s = pad(make_shape(1, 3, 8, 8, 4, 3, 3), 1, 1, 1, 1);
  for (Precision p : kAllPrecisions)
    with_storage_type(p, [&]<typename T>() {
      SCOPED_TRACE(precision_name(p));
      const auto x = rounded<T>(random_vector(3 * 8 * 8, 7)), w = rounded<T>(random_vector(4 * 27, 8));
      std::vector<float> ref(size_t(conv2d_output_count(s)));
      conv2d_ref(s, x.data(), w.data(), nullptr, nullptr, {}, ref.data());
      const DeviceBuffer x_d = upload_as<T>(x), w_d = upload_as<T>(w);
      DeviceBuffer y_d(ref.size() * sizeof(T));
      conv2d_cuda(s, x_d.as<T>(), w_d.as<T>(), nullptr, nullptr, {}, y_d.as<T>(), nullptr);
      // Unit weights over K = 27: the reduction tolerance of a 27-long sum of unit operands.
      expect_close(ref, download_as_float<T>(y_d, ref.size()),
                   ktest::reduction_tolerance(p, {kAtol, kRtol}, 27, 1.f, 1.f));
    });
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
  EXPECT_THROW(conv2d_cuda<float>(ok, nullptr, p, nullptr, nullptr, {}, p, nullptr), std::invalid_argument);
  EXPECT_THROW(conv2d_cuda<float>(ok, p, p, nullptr, nullptr, {}, nullptr, nullptr), std::invalid_argument);
  __half* h = buf.as<__half>();
  EXPECT_THROW(conv2d_cuda(bad, h, h, nullptr, nullptr, {}, h, nullptr), std::invalid_argument);
  EXPECT_THROW(conv2d_cuda<__nv_bfloat16>(ok, nullptr, nullptr, nullptr, nullptr, {}, nullptr, nullptr),
               std::invalid_argument);
}

}  // namespace
}  // namespace dstack::kernels
