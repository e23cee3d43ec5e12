#include "runtime/sim/bandwidth.h"

#include <algorithm>
#include <numeric>

namespace dstack::sim {

void share_bandwidth(const std::vector<double>& demand, const std::vector<double>& weight, double capacity,
                     std::vector<double>& factor, std::vector<int>& order) {
  const int n = static_cast<int>(demand.size());
  factor.assign(n, 1.0);
  double total = 0;
  for (double d : demand) total += d;
  if (total <= capacity) return;
  // Water-filling: the kernels asking least per unit of weight are satisfied first; the level
  // where the rest no longer fit is shared by weight.
  order.resize(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    const double ra = demand[a] / weight[a], rb = demand[b] / weight[b];
    return ra != rb ? ra < rb : a < b;
  });
  double left = capacity;
  double weight_left = 0;
  for (int i = 0; i < n; ++i)
    if (demand[i] > 0) weight_left += weight[i];
  for (int idx = 0; idx < n; ++idx) {
    const int i = order[idx];
    if (demand[i] <= 0) continue;
    const double fair = left * weight[i] / weight_left;
    if (demand[i] <= fair) {
      left -= demand[i];
      weight_left -= weight[i];
      continue;
    }
    // Everyone from here on asks more than the level: each gets its weighted share of what is left.
    for (int jdx = idx; jdx < n; ++jdx) {
      const int j = order[jdx];
      if (demand[j] > 0) factor[j] = (left * weight[j] / weight_left) / demand[j];
    }
    return;
  }
}

}  // namespace dstack::sim
