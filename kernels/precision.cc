#include "kernels/precision.h"

#include <bit>
#include <cmath>
#include <stdexcept>
#include <string>

namespace dstack::kernels {

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::F32: return "fp32";
    case Precision::F16: return "fp16";
    case Precision::BF16: return "bf16";
  }
  return "fp32";
}

Precision parse_precision(std::string_view name) {
  if (name == "fp32") return Precision::F32;
  if (name == "fp16") return Precision::F16;
  if (name == "bf16") return Precision::BF16;
  throw std::invalid_argument("unknown precision '" + std::string(name) + "'; choose fp32, fp16 or bf16");
}

int element_bytes(Precision p) { return p == Precision::F32 ? 4 : 2; }

const char* precision_device_type(Precision p) {
  switch (p) {
    case Precision::F32: return "float";
    case Precision::F16: return "__half";
    case Precision::BF16: return "__nv_bfloat16";
  }
  return "float";
}

uint16_t float_to_half_bits(float x) {
  const uint32_t f = std::bit_cast<uint32_t>(x);
  const uint32_t sign = (f >> 16) & 0x8000u;
  const uint32_t abs = f & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN: quiet, sign kept
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to inf (or is inf)
  if (abs < 0x38800000u) {
    // Below the smallest normal half (2^-14): a subnormal multiple of 2^-24. Adding 0.5 (2^-1 has
    // exponent field 126) aligns the mantissa so the FPU's round-to-nearest-even does the rounding:
    // the result's low bits are the half subnormal mantissa. Exact for all inputs in range.
    const float shifted = std::bit_cast<float>(abs) + 0.5f;
    return static_cast<uint16_t>(sign | (std::bit_cast<uint32_t>(shifted) - 0x3f000000u));
  }
  // Normal: rebias the exponent (127 -> 15) and round the 23-bit mantissa to 10 bits, ties to even.
  const uint32_t odd = (abs >> 13) & 1u;
  const uint32_t rounded = abs + 0xfffu + odd;  // may carry into the exponent, which is correct
  return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

float half_bits_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));  // inf / NaN
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in float
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t float_to_bf16_bits(float x) {
  const uint32_t f = std::bit_cast<uint32_t>(x);
  if ((f & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((f >> 16) | 0x0040u);  // NaN stays NaN (quiet)
  // Drop the low 16 bits, rounding to nearest even; a carry into the exponent gives inf past the max.
  const uint32_t odd = (f >> 16) & 1u;
  return static_cast<uint16_t>((f + 0x7fffu + odd) >> 16);
}

float bf16_bits_to_float(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }

float round_to_precision(float x, Precision p) {
  switch (p) {
    case Precision::F32: return x;
    case Precision::F16: return half_bits_to_float(float_to_half_bits(x));
    case Precision::BF16: return bf16_bits_to_float(float_to_bf16_bits(x));
  }
  return x;
}

}  // namespace dstack::kernels
