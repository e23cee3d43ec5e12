// Precision names, parsing, sizes, device type spellings, and bit-exact rounding to fp16 / bf16.
#include "kernels/precision.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

namespace dstack::kernels {
namespace {

constexpr Precision kAll[] = {Precision::F32, Precision::F16, Precision::BF16};

TEST(Precision, NamesRoundTripThroughParse) {
  EXPECT_STREQ(precision_name(Precision::F32), "fp32");
  EXPECT_STREQ(precision_name(Precision::F16), "fp16");
  EXPECT_STREQ(precision_name(Precision::BF16), "bf16");
  for (Precision p : kAll) EXPECT_EQ(parse_precision(precision_name(p)), p);
}

TEST(Precision, UnknownNameIsExplained) {
  for (const char* bad : {"fp64", "FP16", "", "half", "bf16 "}) {
    try {
      parse_precision(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()), "unknown precision '" + std::string(bad) + "'; choose fp32, fp16 or bf16");
    }
  }
}

TEST(Precision, ElementBytesAndDeviceTypes) {
  EXPECT_EQ(element_bytes(Precision::F32), 4);
  EXPECT_EQ(element_bytes(Precision::F16), 2);
  EXPECT_EQ(element_bytes(Precision::BF16), 2);
  EXPECT_STREQ(precision_device_type(Precision::F32), "float");
  EXPECT_STREQ(precision_device_type(Precision::F16), "__half");
  EXPECT_STREQ(precision_device_type(Precision::BF16), "__nv_bfloat16");
}

TEST(Precision, HalfKnownBitPatterns) {
  EXPECT_EQ(float_to_half_bits(1.f), 0x3c00);
  EXPECT_EQ(float_to_half_bits(-2.f), 0xc000);
  EXPECT_EQ(float_to_half_bits(1.f / 3.f), 0x3555);
  EXPECT_EQ(float_to_half_bits(65504.f), 0x7bff);            // the largest half
  EXPECT_EQ(float_to_half_bits(65519.99f), 0x7bff);          // just below the midpoint to inf
  EXPECT_EQ(float_to_half_bits(65520.f), 0x7c00);            // the midpoint rounds (to even) to inf
  EXPECT_EQ(float_to_half_bits(-1e10f), 0xfc00);
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.f, -25)), 0x0000);  // tie -> even (zero)
  EXPECT_EQ(float_to_half_bits(std::ldexp(3.f, -26)), 0x0001);  // 0.75 ulp -> up
  EXPECT_EQ(float_to_half_bits(std::ldexp(3.f, -25)), 0x0002);  // 1.5 ulp: tie -> even (2)
  EXPECT_EQ(float_to_half_bits(-0.f), 0x8000);
  EXPECT_EQ(float_to_half_bits(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(float_to_half_bits(1.f + std::ldexp(1.f, -11)), 0x3c00);        // tie -> even (1.0)
  EXPECT_EQ(float_to_half_bits(1.f + std::ldexp(3.f, -11)), 0x3c02);        // tie -> even (up)
  EXPECT_EQ(float_to_half_bits(std::numeric_limits<float>::infinity()), 0x7c00);
  const uint16_t nan = float_to_half_bits(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
  EXPECT_EQ(half_bits_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(half_bits_to_float(0x0001), std::ldexp(1.f, -24));
  EXPECT_EQ(half_bits_to_float(0x83ff), -std::ldexp(1023.f, -24));
  EXPECT_TRUE(std::isinf(half_bits_to_float(0xfc00)));
  EXPECT_TRUE(std::isnan(half_bits_to_float(0x7e00)));
}

TEST(Precision, Bf16KnownBitPatterns) {
  EXPECT_EQ(float_to_bf16_bits(1.f), 0x3f80);
  EXPECT_EQ(float_to_bf16_bits(1.00390625f), 0x3f80);   // 1 + 2^-8: tie -> even (1.0)
  EXPECT_EQ(float_to_bf16_bits(1.01171875f), 0x3f82);   // 1 + 3 * 2^-8: tie -> even (up)
  EXPECT_EQ(float_to_bf16_bits(1.0040f), 0x3f81);       // just past the tie
  EXPECT_EQ(float_to_bf16_bits(1.f / 3.f), 0x3eab);
  EXPECT_EQ(float_to_bf16_bits(std::numeric_limits<float>::max()), 0x7f80);  // rounds to inf
  EXPECT_EQ(float_to_bf16_bits(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(float_to_bf16_bits(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(float_to_bf16_bits(std::bit_cast<float>(0x00018000u)), 0x0002);  // subnormal tie -> even
  const uint16_t nan = float_to_bf16_bits(std::bit_cast<float>(0x7f800001u));  // NaN whose payload bf16 drops
  EXPECT_TRUE(std::isnan(bf16_bits_to_float(nan)));
  EXPECT_EQ(bf16_bits_to_float(0x3eab), 0.333984375f);
}

TEST(Precision, RoundToPrecisionDispatches) {
  EXPECT_EQ(round_to_precision(1.f / 3.f, Precision::F32), 1.f / 3.f);
  EXPECT_EQ(round_to_precision(1.f / 3.f, Precision::F16), 0.333251953125f);
  EXPECT_EQ(round_to_precision(1.f / 3.f, Precision::BF16), 0.333984375f);
  EXPECT_TRUE(std::isinf(round_to_precision(70000.f, Precision::F16)));
  EXPECT_EQ(round_to_precision(70000.f, Precision::BF16), 70144.f);
  EXPECT_TRUE(std::isnan(round_to_precision(std::nanf(""), Precision::F16)));
  EXPECT_TRUE(std::isnan(round_to_precision(std::nanf(""), Precision::BF16)));
}

// Every finite half value converts back to itself, and every midpoint between neighbours rounds to
// the one with an even mantissa (the larger magnitude when it is the infinity past 65504).
TEST(Precision, HalfEveryValueAndEveryMidpoint) {
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    const float v = half_bits_to_float(uint16_t(h));
    ASSERT_EQ(float_to_half_bits(v), h) << "half " << h;
    ASSERT_EQ(float_to_half_bits(-v), h | 0x8000u) << "half -" << h;
    const float next = half_bits_to_float(uint16_t(h + 1));  // 0x7c00 is inf: the midpoint is 65520
    const float mid = h + 1 == 0x7c00 ? 65520.f : (v + next) / 2;  // exact in float
    const uint32_t even = (h & 1u) ? h + 1 : h;
    ASSERT_EQ(float_to_half_bits(mid), even) << "midpoint above half " << h;
    ASSERT_EQ(float_to_half_bits(std::nextafter(mid, 0.f)), h) << "below the midpoint above half " << h;
    ASSERT_EQ(float_to_half_bits(std::nextafter(mid, 1e30f)), h + 1) << "above the midpoint above half " << h;
  }
}

// The same for bf16 over every finite positive value with a sampled set of midpoints.
TEST(Precision, Bf16EveryValueAndMidpoints) {
  for (uint32_t b = 0; b < 0x7f80; ++b) {
    const float v = bf16_bits_to_float(uint16_t(b));
    ASSERT_EQ(float_to_bf16_bits(v), b);
    ASSERT_EQ(float_to_bf16_bits(-v), b | 0x8000u);
    const float mid = std::bit_cast<float>((b << 16) | 0x8000u);
    const uint32_t even = (b & 1u) ? b + 1 : b;
    ASSERT_EQ(float_to_bf16_bits(mid), even) << "midpoint above bf16 " << b;
    ASSERT_EQ(float_to_bf16_bits(std::bit_cast<float>((b << 16) | 0x7fffu)), b);
    ASSERT_EQ(float_to_bf16_bits(std::bit_cast<float>((b << 16) | 0x8001u)), b + 1);
  }
}

}  // namespace
}  // namespace dstack::kernels
