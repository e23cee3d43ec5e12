#pragma once
// Measured profiles: one model's latency (whole model and every kernel) by batch size and partition
// size on the GPU. Each partition is a green context held in a PartitionPool; each (batch, SMs)
// point replays the model's CUDA graph `repeats` times after `warmup` launches, timed by CUDA
// events, and keeps the median; kernels are timed per node with events between per-kernel
// launches. Returns the same Profile the simulator's sweep does (runtime/analysis/profile.h).
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/precision.h"
#include "models/graph.h"
#include "runtime/analysis/profile.h"

namespace dstack::cuda {

struct GpuProfileOptions {
  std::vector<int64_t> batches;   // ascending
  std::vector<int> sms;           // requested partition sizes (the whole GPU = its SM count)
  kernels::Precision precision = kernels::Precision::F32;
  int warmup = 3;
  int repeats = 10;
  int kernel_repeats = 3;         // per-kernel timing runs (0: no kernel rows)
  // At each partition size, larger batches are skipped once a batch takes longer than this (0: never):
  // the sweep stops past the SLO range instead of timing batches no SLO would allow.
  double stop_after_ms = 0;
};

// `graph` must carry weights. Throws DriverUnavailable without a GPU; a batch whose arena does not
// fit in free memory ends that partition's sweep with a note in the provenance ("skipped"), not an
// error. Inputs are zeros (latency does not depend on values; zero is a valid token id).
analysis::Profile profile_gpu(const models::Graph& graph, const std::string& model, const GpuProfileOptions& options,
                              const std::string& commit, const analysis::ProgressFn& progress = {});

}  // namespace dstack::cuda
