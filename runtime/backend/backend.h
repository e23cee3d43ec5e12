#pragma once
// What a scheduler drives: a GPU (real or simulated) that runs (model, batch) dispatches on SM
// partitions, on the backend's own clock. The simulator (runtime/sim/sim_backend.h) implements it;
// the CUDA backend (runtime/backend/cuda/cuda_backend.h) and the simulator paced to the wall clock
// (runtime/backend/paced_backend.h) implement the same calls. CPU-only header: no CUDA, no wall
// clock in the interface (time is the backend's, in seconds since it started).
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/precision.h"
#include "models/graph.h"
#include "runtime/backend/gpu_info.h"
#include "runtime/backend/partition_layout.h"

namespace dstack {

// Per-kernel launches (kernel-level policies can interleave models) or one CUDA graph per
// (model, batch) (less launch overhead).
enum class DispatchMode { per_kernel, graph };
inline const char* dispatch_mode_name(DispatchMode m) { return m == DispatchMode::graph ? "graph" : "per-kernel"; }
inline DispatchMode parse_dispatch_mode(const std::string& s) {
  if (s == "graph") return DispatchMode::graph;
  if (s == "per-kernel" || s == "kernel") return DispatchMode::per_kernel;
  throw std::invalid_argument("unknown dispatch mode '" + s + "'; choose graph or per-kernel");
}

struct RunRequest {
  std::string model;  // registered with add_model
  int64_t batch = 1;
  kernels::Precision precision = kernels::Precision::F32;
  int partition = 0;  // index into the current layout's partitions
  DispatchMode dispatch = DispatchMode::graph;
  uint64_t tag = 0;   // the caller's own id (e.g. its batch number), returned in the completion
};

using RunId = uint64_t;

struct RunCompletion {
  RunId id = 0;
  RunRequest request;
  double submitted_s = 0;  // backend clock at submit()
  double started_s = 0;    // first kernel began
  double finished_s = 0;   // last kernel ended
  int partition_sms = 0;
};

// What a backend on the wall clock (a GPU, or the simulator paced to it) saw of its own timing: how
// late run_until returned after a run finished or after its deadline, and the work it did while
// serving that a prepared server does ahead (CUDA graphs captured after prepare()).
struct WallClockReport {
  std::vector<double> wake_after_completion_s;  // run_until's return minus the run's finish
  std::vector<double> wake_after_deadline_s;    // run_until's return minus its deadline (nothing finished)
  std::vector<double> capture_at_s;             // backend clock at each graph captured while serving
  double capture_s = 0;                         // host time those captures took
  std::string waiting;                          // how it waits, e.g. "polls CUDA events every 20 us"
};

class Backend {
 public:
  virtual ~Backend() = default;

  // "simulated h100_sxm (devices/h100_sxm.json)" or the GPU's name.
  virtual std::string describe() const = 0;
  virtual bool simulated() const = 0;
  virtual const SmPartitionGranularity& granularity() const = 0;

  // Makes a model available under `name`; the graph may be shape-only (no weights) for a simulator.
  virtual void add_model(const std::string& name, std::shared_ptr<const models::Graph> graph) = 0;

  // Cuts the GPU into partitions (resolved against granularity()). Only while idle: throws
  // std::logic_error when runs are in flight. New partitions are usable after the creation cost.
  virtual ResolvedLayout set_layout(const PartitionLayout& layout) = 0;
  virtual const ResolvedLayout& layout() const = 0;

  // Queues a run at now(); runs on different partitions (and different runs on one partition) go
  // concurrently, each on its own stream. Moving a model to another partition costs a switch.
  virtual RunId submit(const RunRequest& request) = 0;

  virtual double now() const = 0;
  // Advances the clock to the next run completion at or before `until_s` and returns it; when none
  // completes by then, the clock stops at `until_s` and nullopt comes back. Completions at the same
  // instant come back one call at a time, in submission order.
  virtual std::optional<RunCompletion> run_until(double until_s) = 0;
  // Runs in flight (submitted and not yet returned by run_until).
  virtual int in_flight() const = 0;
  // SM-seconds, from the backend's start to now(), during which an SM held at least one resident
  // thread block (summed over SMs), or nullopt where the backend cannot observe residency (a real
  // GPU without per-SM counters): callers report such a utilization as unknown, never estimate it.
  virtual std::optional<double> occupied_sm_seconds() const { return std::nullopt; }

  // Makes what runs on `layout` need ready before serving starts (the GPU: its green contexts and a
  // CUDA graph per model and batch on each of its partitions), so the measured window pays none of
  // it; the simulator has nothing to prepare. Only while idle.
  virtual void prepare(const PartitionLayout& /*layout*/) {}
  // Wall-clock backends only; nullopt for the simulator, whose clock has no lateness.
  virtual std::optional<WallClockReport> wall_clock_report() const { return std::nullopt; }
};

}  // namespace dstack
