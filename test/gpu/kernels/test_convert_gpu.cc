// convert_cuda (fp32 <-> fp16 / bf16) against the host conversion of kernels/precision.h, bit for
// bit: every 16-bit pattern widened, and seeded random plus edge-case fp32 values narrowed (ties,
// overflow to inf, subnormals, signed zero, NaN).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/convert_cuda.h"
#include "kernels/precision.h"
#include "runtime/backend/cuda/check.h"
#include "runtime/backend/cuda/resources.h"
#include "test/gpu/device_data.h"
#include "test/gpu/gpu_test_env.h"
#include "test/kernels/test_data.h"

namespace dstack::kernels {
namespace {

using cuda::DeviceBuffer;
using dstack::test::download;
using dstack::test::upload;

// fp32 inputs: every edge the rounding must get right, then random values over many binades.
std::vector<float> narrowing_inputs() {
  std::vector<float> v = {0.f, -0.f, 1.f, -2.f, 1.f / 3.f, 65504.f, 65519.99f, 65520.f, -65520.f, 1e10f,
                          std::ldexp(1.f, -14), std::ldexp(1.f, -24), std::ldexp(1.f, -25), std::ldexp(3.f, -25),
                          std::ldexp(3.f, -26), 1.00390625f, 1.01171875f, 1.f + std::ldexp(1.f, -11),
                          std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(),
                          std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::quiet_NaN()};
  const std::vector<float> mantissas = ktest::random_vector(4000, 5, -2.f, 2.f);
  for (size_t i = 0; i < mantissas.size(); ++i) v.push_back(std::ldexp(mantissas[i], int(i % 60) - 30));
  return v;
}

uint16_t expected_bits(float x, Precision p) {
  return p == Precision::F16 ? float_to_half_bits(x) : float_to_bf16_bits(x);
}
float expected_widened(uint16_t b, Precision p) {
  return p == Precision::F16 ? half_bits_to_float(b) : bf16_bits_to_float(b);
}

template <typename T>
void check_narrowing() {
  const Precision p = precision_of<T>();
  SCOPED_TRACE(precision_name(p));
  const std::vector<float> x = narrowing_inputs();
  const DeviceBuffer dx = upload(x), dy = dstack::test::poisoned_as<T>(x.size());
  convert_cuda(int64_t(x.size()), dx.as<float>(), dy.as<T>(), nullptr);
  DSTACK_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<uint16_t> got(x.size());
  DSTACK_CUDA_CHECK(cudaMemcpy(got.data(), dy.data(), got.size() * sizeof(uint16_t), cudaMemcpyDeviceToHost));
  int failures = 0;
  for (size_t i = 0; i < x.size() && failures < 5; ++i) {
    const uint16_t want = expected_bits(x[i], p);
    if (std::isnan(x[i])) {  // any NaN encoding is a NaN
      if (!std::isnan(expected_widened(got[i], p))) {
        ++failures;
        ADD_FAILURE() << "NaN not kept at " << i;
      }
    } else if (got[i] != want) {
      ++failures;
      ADD_FAILURE() << "x = " << x[i] << ": got 0x" << std::hex << got[i] << ", want 0x" << want;
    }
  }
}

template <typename T>
void check_widening() {
  const Precision p = precision_of<T>();
  SCOPED_TRACE(precision_name(p));
  std::vector<uint16_t> bits(65536);
  for (size_t i = 0; i < bits.size(); ++i) bits[i] = uint16_t(i);
  DeviceBuffer dx(bits.size() * sizeof(uint16_t));
  DSTACK_CUDA_CHECK(cudaMemcpy(dx.data(), bits.data(), bits.size() * sizeof(uint16_t), cudaMemcpyHostToDevice));
  const DeviceBuffer dy = dstack::test::poisoned(bits.size());
  convert_cuda(int64_t(bits.size()), dx.as<T>(), dy.as<float>(), nullptr);
  DSTACK_CUDA_CHECK(cudaDeviceSynchronize());
  const std::vector<float> got = download(dy, bits.size());
  int failures = 0;
  for (size_t i = 0; i < bits.size() && failures < 5; ++i) {
    const float want = expected_widened(bits[i], p);
    const bool ok = std::isnan(want) ? std::isnan(got[i]) : std::memcmp(&want, &got[i], sizeof(float)) == 0;
    if (!ok) {
      ++failures;
      ADD_FAILURE() << "bits 0x" << std::hex << bits[i] << ": got " << got[i] << ", want " << want;
    }
  }
}

TEST(ConvertGpu, NarrowingMatchesTheHostRoundingBitForBit) {
  DSTACK_REQUIRE_GPU();
  check_narrowing<__half>();
  check_narrowing<__nv_bfloat16>();
}

TEST(ConvertGpu, WideningEveryPatternIsExact) {
  DSTACK_REQUIRE_GPU();
  check_widening<__half>();
  check_widening<__nv_bfloat16>();
}

TEST(ConvertGpu, RoundTripThroughSixteenBitsIsRoundToPrecision) {
  DSTACK_REQUIRE_GPU();
  const std::vector<float> x = ktest::random_vector(100000, 9, -100.f, 100.f);
  const DeviceBuffer dx = upload(x), dh(x.size() * 2), db(x.size() * 2), dyh = dstack::test::poisoned(x.size()),
                     dyb = dstack::test::poisoned(x.size());
  convert_cuda(int64_t(x.size()), dx.as<float>(), dh.as<__half>(), nullptr);
  convert_cuda(int64_t(x.size()), dh.as<__half>(), dyh.as<float>(), nullptr);
  convert_cuda(int64_t(x.size()), dx.as<float>(), db.as<__nv_bfloat16>(), nullptr);
  convert_cuda(int64_t(x.size()), db.as<__nv_bfloat16>(), dyb.as<float>(), nullptr);
  DSTACK_CUDA_CHECK(cudaDeviceSynchronize());
  EXPECT_EQ(download(dyh, x.size()), dstack::test::rounded<__half>(x));
  EXPECT_EQ(download(dyb, x.size()), dstack::test::rounded<__nv_bfloat16>(x));
}

TEST(ConvertGpu, ZeroCountLaunchesNothingAndBadArgumentsThrow) {
  DSTACK_REQUIRE_GPU();
  EXPECT_NO_THROW((convert_cuda<float, __half>(0, nullptr, nullptr, nullptr)));
  EXPECT_THROW((convert_cuda<float, __half>(-1, nullptr, nullptr, nullptr)), std::invalid_argument);
  EXPECT_THROW((convert_cuda<__nv_bfloat16, float>(4, nullptr, nullptr, nullptr)), std::invalid_argument);
  DSTACK_CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace
}  // namespace dstack::kernels
