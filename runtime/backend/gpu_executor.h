#pragma once
// Runs a graph on the GPU with dstack's own CUDA kernels (per-kernel dispatch on one stream). The
// CPU reference (cpu_executor.h) is its oracle. No CUDA header here: callers on the CPU side use it.
#include <vector>

#include "models/graph.h"
#include "models/tensor.h"

namespace dstack {

struct GpuRunStats {
  // CUDA-event time from the first launch to the last kernel's end, uploads and downloads excluded
  // but the per-activation allocations between launches included (no arena yet): an upper bound.
  double milliseconds = 0;
  int kernels = 0;          // launches issued
};

// Same contract as run_cpu (inputs per graph input, batch first; outputs in order). Throws
// a std::runtime_error (cuda::DriverUnavailable) naming why when no GPU can be used, std::invalid_argument for bad inputs, and
// models::GraphError for a failure inside a node (e.g. an embedding id out of range).
std::vector<models::Tensor> run_gpu(const models::Graph& graph, const std::vector<models::Tensor>& inputs,
                                    GpuRunStats* stats = nullptr);

}  // namespace dstack
