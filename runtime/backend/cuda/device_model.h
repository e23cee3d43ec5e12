#pragma once
// A model resident on the GPU: its weights uploaded once in one block (converted to the run's
// precision), one activation arena per batch size laid out by plan_memory, and two ways to dispatch
// it: per kernel (enqueue_node, for kernel-level policies) or as one CUDA graph per (batch, stream)
// (enqueue_graph, whole-model dispatch; a partition is a stream, so this is a graph per
// (model, batch, partition)). Kernels are dstack's own, or cuDNN/cuBLAS where the vendor backend
// covers a node (KernelSource::Vendor, which falls back to ours node by node and counts both).
//
// One batch is in flight per (model, batch size) at a time: the arena is reused by every enqueue at
// that batch, so a caller must wait for one run's outputs before enqueueing the next. With
// DeviceModelOptions::shared_arena_max_batch every batch up to it shares one arena (what a server
// holding every batch size ready can afford): then one batch is in flight per model.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/precision.h"
#include "models/graph.h"
#include "models/tensor.h"
#include "runtime/backend/memory_plan.h"

namespace dstack::cuda {

enum class KernelSource { Ours, Vendor };
const char* kernel_source_name(KernelSource s);

struct DeviceModelOptions {
  kernels::Precision precision = kernels::Precision::F32;
  KernelSource kernels = KernelSource::Ours;
  // > 0: one activation arena and one staging buffer, sized for the largest of batches
  // 1..shared_arena_max_batch and allocated at construction, serve every batch up to it (a larger
  // batch is an error); 0: each batch allocates its own on first use.
  int64_t shared_arena_max_batch = 0;
};

// Device bytes a model needs at `precision` with one arena shared by batches 1..max_batch: its
// weights, that arena and the staging buffer of a reduced precision (CPU-side arithmetic from
// plan_memory; nothing is allocated).
struct DeviceModelBytes {
  int64_t weights = 0;
  int64_t arena = 0;
  int64_t staging = 0;
  int64_t total() const { return weights + arena + staging; }
};
DeviceModelBytes device_model_bytes(const models::Graph& graph, kernels::Precision precision, int64_t max_batch);

class DeviceModel {
 public:
  // Uploads the weights (graph must carry them and outlive the DeviceModel). Throws
  // DriverUnavailable without a GPU, std::invalid_argument for a graph without weights or a vendor
  // request this build cannot serve.
  DeviceModel(const models::Graph& graph, DeviceModelOptions options);
  ~DeviceModel();
  DeviceModel(const DeviceModel&) = delete;
  DeviceModel& operator=(const DeviceModel&) = delete;

  const DeviceModelOptions& options() const noexcept;
  int64_t weight_bytes() const noexcept;

  // The memory plan at `batch`, allocating that batch's arena on first use.
  const MemoryPlan& prepare(int64_t batch);

  // Copies host fp32 inputs (batch first, one per graph input) into the arena of their batch,
  // converting to the run's precision; asynchronous on `stream`. Throws std::invalid_argument for a
  // wrong count or shape.
  void set_inputs(const std::vector<models::Tensor>& inputs, cudaStream_t stream);

  // The same from host memory laid out batch first, one pointer per graph input, each holding at
  // least `batch` samples; no shape checks. From pinned memory the copy is truly asynchronous: what
  // a server pays to move a batch's inputs to the GPU.
  void upload_inputs(int64_t batch, const std::vector<const float*>& host, cudaStream_t stream);

  // Per-kernel dispatch: node `node` (index into graph.nodes()) at `batch`; a Reshape launches
  // nothing (it aliases its input in the arena).
  void enqueue_node(int64_t batch, size_t node, cudaStream_t stream);
  // Every node in order, per kernel.
  void enqueue(int64_t batch, cudaStream_t stream);
  // The whole model as one CUDA graph, captured on the first call for (batch, stream) after one
  // eager warm-up run (which loads modules and lets the vendor library pick its algorithms).
  void enqueue_graph(int64_t batch, cudaStream_t stream);
  // Runs the model once at `batch` per kernel on `stream` and waits for it: loads its kernels' modules
  // and lets the vendor library choose its algorithms, so a later capture at that batch needs no run.
  void warm_up(int64_t batch, cudaStream_t stream);
  // Captures (batch, stream)'s graph as enqueue_graph would, without launching it; nothing when it
  // exists. Returns whether it captured.
  bool capture_graph(int64_t batch, cudaStream_t stream);
  bool has_graph(int64_t batch, cudaStream_t stream) const;

  // Waits for `stream`, checks the embedding ids, and returns the outputs as fp32 host tensors.
  // Throws models::GraphError naming the Embedding node when an id was outside its table.
  std::vector<models::Tensor> outputs(int64_t batch, cudaStream_t stream);

  // Nodes of the last whole-model enqueue that ran a vendor routine / one of dstack's kernels.
  int vendor_nodes() const noexcept;
  int our_nodes() const noexcept;
  int graphs_captured() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dstack::cuda
