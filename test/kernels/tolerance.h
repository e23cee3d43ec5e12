#pragma once
// Elementwise comparison of a kernel's output with an independent reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <span>

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

}  // namespace dstack::kernels::ktest
