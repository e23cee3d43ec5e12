#pragma once
// How fast one thread block progresses on an SM: the one formula both simulator modes and the
// calibration use, so they cannot disagree. CPU only.
#include <algorithm>

namespace dstack::sim {

// The work of one thread block of a kernel (per-kernel cost model, runtime/sim/cost_model.h).
struct BlockWork {
  double flops = 0;          // this block's share of the kernel's FLOPs
  double bytes = 0;          // its share of the kernel's DRAM bytes (read + written)
  double peak_flops_per_sm = 0;  // the SM rate it can reach: CUDA cores, or tensor cores for *_tc kernels
  double latency_s = 0;      // fixed time besides its work (dispatch, first access latency)
  bool tensor_core = false;
};

// What limits a block at the moment.
enum class Bound { compute, memory, latency };
inline const char* bound_name(Bound b) {
  return b == Bound::compute ? "compute" : b == Bound::memory ? "memory" : "latency";
}

struct BlockRate {
  double time_s = 0;   // time of one block at this load, without DRAM contention
  Bound bound = Bound::compute;
};

// One block of `warps` warps on an SM whose resident blocks hold `sm_warps` warps in all: the SM's
// compute rate and its DRAM port are shared by warps, and an SM below `saturate_warps` cannot reach
// its peak (too few warps to hide latency). Roofline per block: the larger of the compute and memory
// time, plus the fixed latency.
inline BlockRate block_rate(const BlockWork& w, int warps, double sm_warps, double saturate_warps,
                            double sm_bytes_per_s) {
  const double share = warps / std::max(sm_warps, saturate_warps);
  const double compute = w.flops > 0 ? w.flops / (w.peak_flops_per_sm * share) : 0.0;
  const double memory = w.bytes > 0 ? w.bytes / (sm_bytes_per_s * share) : 0.0;
  BlockRate r;
  r.time_s = w.latency_s + std::max(compute, memory);
  r.bound = std::max(compute, memory) < w.latency_s ? Bound::latency : memory > compute ? Bound::memory : Bound::compute;
  return r;
}

}  // namespace dstack::sim
