#pragma once
// The median of a sample (timing repeats, error lists): the middle value, or the mean of the two
// middle ones; 0 for an empty sample. Header-only, no CUDA.
#include <algorithm>
#include <vector>

namespace dstack {

inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  const std::size_t n = v.size(), mid = n / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double upper = v[mid];
  if (n % 2) return upper;
  return 0.5 * (*std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid)) + upper);
}

}  // namespace dstack
