#pragma once
// Sharing the device's DRAM bandwidth among the kernels running at once (fluid model): every
// kernel asks for the bandwidth it would use at its compute-limited speed; when the asks exceed the
// device, bandwidth is divided max-min fairly, weighted by resident warps (more warps keep more
// requests in flight). Recomputed whenever the running set changes. CPU only.
#include <vector>

namespace dstack::sim {

// For each kernel, the fraction of its demand it gets (1 when not throttled). `demand` in bytes/s,
// `weight` > 0 for every kernel with demand > 0. Writes into `factor` (resized); `order` is scratch.
void share_bandwidth(const std::vector<double>& demand, const std::vector<double>& weight, double capacity,
                     std::vector<double>& factor, std::vector<int>& order);

}  // namespace dstack::sim
