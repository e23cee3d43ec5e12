#pragma once
// Nearest-rank percentile: the ceil(p/100 * n)-th smallest of n values (the definition serving
// metrics use), 0 for an empty sample. Header-only, no CUDA.
#include <algorithm>
#include <cmath>
#include <vector>

namespace dstack {

inline double nearest_rank(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  const auto n = static_cast<double>(v.size());
  const auto rank = static_cast<std::size_t>(std::clamp(std::ceil(p / 100.0 * n), 1.0, n));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(rank - 1), v.end());
  return v[rank - 1];
}

}  // namespace dstack
