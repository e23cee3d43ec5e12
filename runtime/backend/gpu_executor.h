#pragma once
// Runs a graph once on the GPU: weights uploaded, one activation arena at the input's batch
// (runtime/backend/memory_plan.h), every node through dstack's kernels (or cuDNN/cuBLAS where the
// vendor backend covers it) at the chosen precision, per kernel or as one CUDA graph. The CPU
// reference (cpu_executor.h) is its oracle. No CUDA header here: callers on the CPU side use it.
#include <string>
#include <vector>

#include "kernels/precision.h"
#include "models/graph.h"
#include "models/tensor.h"

namespace dstack {

struct GpuRunOptions {
  kernels::Precision precision = kernels::Precision::F32;
  bool vendor = false;      // cuDNN/cuBLAS where they cover a node, dstack's kernels elsewhere
  bool cuda_graph = false;  // dispatch the whole model as one captured CUDA graph
};

struct GpuRunStats {
  // CUDA-event time of one dispatch of the whole model (uploads and downloads excluded). With
  // cuda_graph, the graph launch after capture; without, the per-kernel launches.
  double milliseconds = 0;
  int kernels = 0;         // nodes that launched work (reshapes alias and launch nothing)
  int vendor_nodes = 0;    // of which cuDNN/cuBLAS ran
  long long weight_bytes = 0;
  long long activation_bytes = 0;  // the arena at this batch
  std::string precision;   // "fp32", "fp16", "bf16"
};

// Same contract as run_cpu (inputs per graph input, batch first, fp32; outputs in order, fp32).
// Throws a std::runtime_error (cuda::DriverUnavailable) naming why when no GPU can be used,
// std::invalid_argument for bad inputs or options this build cannot serve, and models::GraphError
// for a failure inside a node (e.g. an embedding id out of range).
std::vector<models::Tensor> run_gpu(const models::Graph& graph, const std::vector<models::Tensor>& inputs,
                                    const GpuRunOptions& options = {}, GpuRunStats* stats = nullptr);

}  // namespace dstack
