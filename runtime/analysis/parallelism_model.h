#pragma once
// The paper's parallelism model (../shared/PAPER.md, "Parallelism model"), computed from a prepared
// plan alone, without running it: per kernel k its thread blocks B_k, resident blocks per SM a_k
// (occupancy from the kernel's real registers and shared memory against the device's SM limits),
// waves W_k(S) = ceil(B_k / (a_k·S)) and usable SMs U_k = min(S_max, ceil(B_k / a_k)); its time on S
// SMs is the larger of a compute term (W_k(S) full waves, each as long as a full wave of a_k blocks
// per SM) and a memory term (its DRAM bytes over the bandwidth S SMs can draw, which saturates
// before the whole GPU), plus the dispatch gap. T(b, S) is the sum plus the launch. The knee is the
// smallest allowed S with T(b, S) <= (1 + epsilon)·T(b, S_max).
//
// Deliberately simpler than the simulator (runtime/sim), which models the tail wave's lighter load,
// concurrency between streams and DRAM sharing event by event: the simulator is what validates this
// model, so the two must not be the same formula. CPU only.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/sim/device_spec.h"
#include "runtime/sim/sim_plan.h"

namespace dstack::analysis {

// A latency curve: (SMs, latency in seconds), by increasing SMs.
using LatencyCurve = std::vector<std::pair<int, double>>;

// The knee of a curve: the smallest SMs whose latency is within (1 + epsilon) of the latency at
// the curve's largest SMs. Throws std::invalid_argument for an empty curve, SMs not increasing, a
// non-positive latency or a negative epsilon.
int knee_of(const LatencyCurve& curve, double epsilon);

struct KernelEstimate {
  int kernel = 0;            // index into SimPlan::kernels
  int64_t blocks = 0;        // B_k
  int blocks_per_sm = 0;     // a_k
  int usable_sms = 0;        // U_k
  int64_t waves = 0;         // W_k(S)
  double compute_s = 0;      // full waves + the tail wave
  double memory_s = 0;       // bytes / BW(S)
  double time_s = 0;         // max(compute, memory) + gap
  bool memory_bound() const { return memory_s > compute_s; }
};

struct LatencyEstimate {
  int sms = 0;
  double latency_s = 0;  // launch + Σ time_s
  std::vector<KernelEstimate> kernels;
};

struct ParallelismOptions {
  double epsilon = 0.05;                     // the knee's tolerance
  DispatchMode dispatch = DispatchMode::graph;  // decides the launch cost and the gaps between kernels
};

class ParallelismModel {
 public:
  ParallelismModel(const sim::SimPlan& plan, const sim::DeviceSpec& device, ParallelismOptions options = {});

  // Partition sizes the device allows (its split groups, then the whole GPU), smallest first.
  const std::vector<int>& allowed_sms() const { return allowed_; }
  // T(b, S) on `sms` SMs, kernel by kernel. Any sms in 1..sm_count (not only allowed sizes).
  LatencyEstimate estimate(int sms) const;
  double latency_s(int sms) const { return estimate(sms).latency_s; }
  // T at every allowed size.
  LatencyCurve curve() const;
  int knee_sms() const;
  // Runtime-weighted mean of U_k on the whole GPU: the SMs the model can keep busy on average.
  double usable_parallelism() const;
  const ParallelismOptions& options() const { return options_; }

 private:
  const sim::SimPlan& plan_;
  const sim::DeviceSpec& device_;
  ParallelismOptions options_;
  std::vector<int> allowed_;
};

}  // namespace dstack::analysis
