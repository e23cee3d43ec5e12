#include "runtime/analysis/parallelism_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace dstack::analysis {

namespace {

// One wave with `per_sm` blocks of `k` on each SM: they share the SM's compute rate, which needs
// enough resident warps to reach its peak; each block also pays its fixed latency.
double wave_time(const sim::SimKernel& k, int per_sm, const sim::DeviceSpec& device) {
  const double resident_warps = static_cast<double>(per_sm) * k.warps;
  const double rate = k.work.peak_flops_per_sm *
                      std::min(1.0, resident_warps / static_cast<double>(device.model.warps_to_saturate_sm));
  return k.work.latency_s + (k.work.flops > 0 ? per_sm * k.work.flops / rate : 0.0);
}

}  // namespace

int knee_of(const LatencyCurve& curve, double epsilon) {
  if (curve.empty()) throw std::invalid_argument("knee of an empty latency curve");
  if (!(epsilon >= 0)) throw std::invalid_argument(fmt::format("knee epsilon must be >= 0, not {}", epsilon));
  for (std::size_t i = 0; i < curve.size(); ++i) {
    if (!(curve[i].second > 0))
      throw std::invalid_argument(fmt::format("latency at {} SMs must be positive, not {}", curve[i].first,
                                              curve[i].second));
    if (i > 0 && curve[i].first <= curve[i - 1].first)
      throw std::invalid_argument(fmt::format("latency curve SMs must increase ({} after {})", curve[i].first,
                                              curve[i - 1].first));
  }
  const double bound = (1 + epsilon) * curve.back().second;
  for (const auto& [sms, latency] : curve)
    if (latency <= bound) return sms;
  return curve.back().first;  // unreachable: the last point always qualifies
}

ParallelismModel::ParallelismModel(const sim::SimPlan& plan, const sim::DeviceSpec& device, ParallelismOptions options)
    : plan_(plan), device_(device), options_(options), allowed_(device.granularity().partition_sizes) {
  if (!(options_.epsilon >= 0))
    throw std::invalid_argument(fmt::format("knee epsilon must be >= 0, not {}", options_.epsilon));
  if (allowed_.empty()) throw std::invalid_argument(device.name + ": the device allows no partition sizes");
}

LatencyEstimate ParallelismModel::estimate(int sms) const {
  if (sms < 1 || sms > device_.sm_count)
    throw std::invalid_argument(fmt::format("{} SMs: {} has 1..{}", sms, device_.name, device_.sm_count));
  const bool graph = options_.dispatch == DispatchMode::graph;
  const auto& t = device_.timing;
  const double gap_s = (graph ? t.graph_kernel_gap_us : t.kernel_gap_us) * 1e-6;
  const double bandwidth = std::min(device_.dram_bytes_per_s(), sms * device_.sm_dram_bytes_per_s());
  LatencyEstimate e;
  e.sms = sms;
  e.latency_s = graph ? t.graph_launch_us * 1e-6 : 0.0;
  for (std::size_t i = 0; i < plan_.kernels.size(); ++i) {
    const sim::SimKernel& k = plan_.kernels[i];
    KernelEstimate ke;
    ke.kernel = static_cast<int>(i);
    ke.blocks = k.blocks;
    ke.blocks_per_sm = k.occupancy.blocks_per_sm;
    const int64_t per_wave = static_cast<int64_t>(ke.blocks_per_sm) * sms;
    ke.waves = (k.blocks + per_wave - 1) / per_wave;
    ke.usable_sms = static_cast<int>(std::min<int64_t>(
        device_.sm_count, (k.blocks + ke.blocks_per_sm - 1) / ke.blocks_per_sm));
    // Full waves hold a_k blocks on every SM; the block scheduler spreads the tail wave's blocks
    // over the SMs, so its most loaded SM holds ceil(rest / S) of them and each runs faster.
    const int64_t full = k.blocks / per_wave;
    const int64_t rest = k.blocks - full * per_wave;
    ke.compute_s = static_cast<double>(full) * wave_time(k, ke.blocks_per_sm, device_);
    if (rest > 0) ke.compute_s += wave_time(k, static_cast<int>((rest + sms - 1) / sms), device_);
    ke.memory_s = k.work.bytes * static_cast<double>(k.blocks) / bandwidth;
    ke.time_s = std::max(ke.compute_s, ke.memory_s) + gap_s;
    // Launched one by one, the host issues a kernel per launch overhead at best.
    if (!graph) ke.time_s = std::max(ke.time_s, t.launch_overhead_us * 1e-6);
    e.latency_s += ke.time_s;
    e.kernels.push_back(ke);
  }
  return e;
}

LatencyCurve ParallelismModel::curve() const {
  LatencyCurve c;
  for (int s : allowed_) c.emplace_back(s, latency_s(s));
  return c;
}

int ParallelismModel::knee_sms() const { return knee_of(curve(), options_.epsilon); }

double ParallelismModel::usable_parallelism() const {
  const LatencyEstimate e = estimate(device_.sm_count);
  double weighted = 0, total = 0;
  for (const auto& k : e.kernels) {
    weighted += k.time_s * k.usable_sms;
    total += k.time_s;
  }
  return total > 0 ? weighted / total : 0.0;
}

}  // namespace dstack::analysis
