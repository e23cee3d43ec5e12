#pragma once
// Elementwise comparison of a kernel's output with an independent reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels/precision.h"

namespace dstack::kernels::ktest {

// Tolerances used across the suite: got may differ from ref by atol + rtol * |ref|.
inline constexpr float kExact = 0.f;          // pure data movement, or the same float ops in the same order
inline constexpr float kGemmAtol = 1e-5f;     // GEMM-based (conv, gemm, matmul) vs a double-accumulated reference
inline constexpr float kGemmRtol = 1e-4f;
inline constexpr float kMathAtol = 1e-6f;     // float libm (exp, erf, pow, tanh) and short float sums vs double
inline constexpr float kMathRtol = 1e-5f;

// Success when |got[i] - ref[i]| <= atol + rtol * |ref[i]| for every i (equal infinities pass);
// otherwise says how many elements fail and shows the first.
inline ::testing::AssertionResult all_close(std::span<const float> ref, std::span<const float> got, float atol,
                                            float rtol) {
  if (ref.size() != got.size())
    return ::testing::AssertionFailure() << "sizes differ: ref " << ref.size() << ", got " << got.size();
  size_t failures = 0, first = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const bool ok = got[i] == ref[i] || std::fabs(got[i] - ref[i]) <= atol + rtol * std::fabs(ref[i]);
    if (!ok && failures++ == 0) first = i;
  }
  if (failures == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << failures << " of " << ref.size() << " elements out of tolerance (atol "
                                       << atol << ", rtol " << rtol << "); first at index " << first << ": ref "
                                       << ref[first] << ", got " << got[first];
}

inline void expect_close(std::span<const float> ref, std::span<const float> got, float atol, float rtol) {
  EXPECT_TRUE(all_close(ref, got, atol, rtol));
}

// ---- Per-precision tolerances of the GPU kernel tests (the one place they are stated) ----
//
// The CPU reference runs on inputs already rounded to the storage type (round_to_precision), and
// every kernel computes in fp32 and rounds once on store, so what separates the GPU from the
// reference is (1) that final rounding, at most half an ulp of the result: 2^-11 relative for fp16,
// 2^-9 for bf16; (2) fp32 differences in summation order and libm, as at fp32; (3) tensor-core
// accumulation order. fp16 allows atol 1e-2 + rtol 1e-2, twenty times the rounding bound; bf16 has 3
// fewer mantissa bits, so 8x that. fp32 keeps each test's own tolerance.
struct Tolerance {
  float atol;
  float rtol;
};

inline Tolerance storage_tolerance(Precision p, Tolerance fp32) {
  switch (p) {
    case Precision::F32: return fp32;
    case Precision::F16: return {1e-2f, 1e-2f};
    case Precision::BF16: return {8e-2f, 8e-2f};
  }
  return fp32;
}

// For a reduction of length k over operands bounded by max_a and max_b (GEMM, convolution): the
// outputs grow like sqrt(k) * max_a * max_b (random signs), and so do the absolute differences that
// rtol cannot cover: an output near zero that is a cancelling sum of large terms carries the
// accumulation-order and rounding differences of those terms. atol therefore scales with
// sqrt(k) * max_a * max_b (normalised to a 16-long reduction of unit operands, one wmma k-step),
// which keeps it a fixed fraction of the outputs' typical size: a wrong index, which changes outputs
// by their own order, still fails. Never below the short-reduction tolerance.
inline Tolerance reduction_tolerance(Precision p, Tolerance fp32, int64_t k, float max_a, float max_b) {
  Tolerance t = storage_tolerance(p, fp32);
  if (p == Precision::F32) return t;  // fp32 tests state their own bound
  const float scale = std::sqrt(float(k) / 16.f) * max_a * max_b;
  if (scale > 1.f) t.atol *= scale;
  return t;
}

// max |v| (0 for an empty v), for reduction_tolerance.
inline float max_abs(std::span<const float> v) {
  float m = 0.f;
  for (float x : v) m = std::fmax(m, std::fabs(x));
  return m;
}

inline void expect_close(std::span<const float> ref, std::span<const float> got, Tolerance t) {
  EXPECT_TRUE(all_close(ref, got, t.atol, t.rtol));
}

}  // namespace dstack::kernels::ktest
