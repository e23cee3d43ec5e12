#pragma once
// Serving on a real GPU: the Backend interface (runtime/backend/backend.h) over resident models
// (DeviceModel), SM partitions held as green contexts (PartitionPool) and CUDA events.
//
//  - CudaServingDevice is what outlives one policy's run: every model resident at the experiment's
//    precision with one activation arena for batches 1..max_batch, pinned host inputs, the layouts
//    held so far and the graphs captured on them. An experiment that does not fit in device memory
//    is refused before anything is uploaded.
//  - CudaBackend is one policy's view of it, with its own clock: now() is wall time since the
//    backend was made. Each model runs on its own stream (lane) of a partition, created in that
//    partition's green context, so a captured graph replays inside its partition and models sharing
//    a partition run concurrently. A run is: start event, the batch's inputs copied from pinned host
//    memory (unless the experiment leaves the copy out), the (model, batch, partition) CUDA graph
//    (or every kernel launched on its own for per-kernel dispatch), end event. started_s and
//    finished_s come from those events, placed on the wall clock through a reference event recorded
//    on the idle stream when the backend first uses it. run_until polls the events in flight every
//    few microseconds, sleeping in between (WallClock), and reports how late it woke.
//  - SM occupancy is not observable here without a counter that serializes kernels:
//    occupied_sm_seconds() is nullopt and results say "unknown".
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/precision.h"
#include "models/graph.h"
#include "runtime/backend/backend.h"
#include "runtime/backend/cuda/device_model.h"
#include "runtime/backend/cuda/partition_pool.h"
#include "runtime/backend/cuda/resources.h"
#include "runtime/backend/gpu_info.h"
#include "runtime/backend/wall_clock.h"

namespace dstack::cuda {

struct CudaServingModel {
  std::string name;                             // the experiment's label
  std::shared_ptr<const models::Graph> graph;  // with weights
};

struct CudaServingOptions {
  kernels::Precision precision = kernels::Precision::F32;
  int64_t max_batch = 64;   // arenas sized and graphs captured for batches 1..max_batch
  bool copy_inputs = true;  // each run copies its batch's inputs from pinned host memory first
  uint64_t seed = 1;        // of the inputs' values
  int device = 0;
  WallClock::Options clock;
};

class CudaServingDevice {
 public:
  // Checks that every model fits (weights, arena, staging) in the device's free memory, then makes
  // each resident and runs it once at every batch (module loading and first-launch costs stay out
  // of serving). Throws DriverUnavailable without a usable GPU or green contexts, and
  // std::invalid_argument for what does not fit (each model's bytes and the bytes free), a graph
  // without weights, or a model the kernels cannot run at the precision.
  CudaServingDevice(std::vector<CudaServingModel> models, CudaServingOptions options);
  ~CudaServingDevice();
  CudaServingDevice(const CudaServingDevice&) = delete;
  CudaServingDevice& operator=(const CudaServingDevice&) = delete;

  const CudaServingOptions& options() const { return options_; }
  const GpuDevice& gpu() const { return gpu_; }
  int driver_version() const { return driver_version_; }
  const SmPartitionGranularity& granularity() const { return pool_.granularity(); }
  PartitionPool& pool() { return pool_; }

  int models() const { return static_cast<int>(models_.size()); }
  // The index of a resident model; throws std::invalid_argument listing the resident ones.
  int model_index(const std::string& name) const;
  const std::string& model_name(int m) const;
  DeviceModel& model(int m);
  // The model's inputs (batch first, max_batch samples each) in pinned host memory.
  const std::vector<const float*>& host_inputs(int m) const;

  // Device bytes taken by the models (weights, arenas, staging) and free after they were made.
  int64_t resident_bytes() const { return resident_bytes_; }
  int64_t free_bytes_after() const { return free_after_; }
  // Host seconds spent making the models resident and warming them up.
  double setup_s() const { return setup_s_; }

 private:
  struct Resident;
  CudaServingOptions options_;
  GpuDevice gpu_;
  int driver_version_ = 0;
  PartitionPool pool_;
  std::vector<std::unique_ptr<Resident>> models_;
  int64_t resident_bytes_ = 0;
  int64_t free_after_ = 0;
  double setup_s_ = 0;
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(std::shared_ptr<CudaServingDevice> device);
  ~CudaBackend() override;

  std::string describe() const override;
  bool simulated() const override { return false; }
  const SmPartitionGranularity& granularity() const override { return device_->granularity(); }
  // The model must be resident in the device under `name` (the graph is then not needed again).
  void add_model(const std::string& name, std::shared_ptr<const models::Graph> graph) override;
  ResolvedLayout set_layout(const PartitionLayout& layout) override;
  const ResolvedLayout& layout() const override { return layout_; }
  // Throws std::logic_error when the model already has a run in flight (its arena holds one batch),
  // std::invalid_argument for an unknown model, a batch outside 1..max_batch or a partition the
  // layout lacks.
  RunId submit(const RunRequest& request) override;
  double now() const override { return clock_.now(); }
  std::optional<RunCompletion> run_until(double until_s) override;
  int in_flight() const override { return static_cast<int>(runs_.size()); }
  void prepare(const PartitionLayout& layout) override;
  std::optional<WallClockReport> wall_clock_report() const override { return report_; }

  // Graphs captured by prepare() (before serving) and host seconds it took.
  int prepared_graphs() const { return prepared_graphs_; }
  double prepare_s() const { return prepare_s_; }

 private:
  struct Run;
  struct StreamClock;
  // The layout's id in the pool, holding it (and creating its streams' reference events) first.
  int hold(const PartitionLayout& layout);
  StreamClock& stream_clock(cudaStream_t stream);
  double event_wall_s(const StreamClock& ref, const Event& e) const;
  // Checks the runs in flight; true when one has finished (its index in `done_`).
  bool poll();

  std::shared_ptr<CudaServingDevice> device_;
  WallClock clock_;
  ResolvedLayout layout_;
  int layout_id_ = -1;
  std::vector<std::unique_ptr<StreamClock>> clocks_;
  std::vector<std::unique_ptr<Run>> runs_;  // in flight, in submission order
  std::vector<std::unique_ptr<Event>> spare_events_;
  std::vector<bool> model_busy_;
  std::optional<std::size_t> done_;
  RunId next_id_ = 1;
  WallClockReport report_;
  int prepared_graphs_ = 0;
  double prepare_s_ = 0;
};

}  // namespace dstack::cuda
