#pragma once
// What a scheduling policy is: it sees arrivals, completions and the clock (the backend's, passed
// in; never the wall) and decides what runs where: (model, batch, partition) dispatches and the
// partition layout. The serving loop (runtime/serve/serve_loop.h) asks it after every event and
// carries out its decisions. D-STACK and every baseline implement this in one file each and are
// listed in registry.cc. CPU only.
//
// The loop's rules a policy can rely on (and must keep):
//  - at most one run per model is in flight (a model's memory holds one batch at a time); a
//    dispatch of a busy model, of more requests than are queued, of batch < 1, or to a partition the
//    current layout lacks is a policy bug: the loop throws std::logic_error naming the policy;
//  - a dispatch takes the model's oldest queued requests;
//  - a new layout is applied once every run in flight has finished (the loop stops dispatching
//    until then); partitions of one layout never share SMs;
//  - `drop` removes a model's oldest queued requests (counted as rejected, never lost).
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/backend/partition_layout.h"
#include "runtime/sched/oracle.h"

namespace dstack::sched {

struct ModelSpec {
  std::string name;         // the experiment's label for it
  double slo_s = 0;         // latency SLO of a request, arrival to completion
  double rate_rps = 0;      // the configured mean rate (a hint: the real arrivals may differ or change)
  bool high_priority = false;
  int64_t max_queue = 4096;
};

struct PolicyContext {
  std::vector<ModelSpec> models;
  const Oracle* oracle = nullptr;   // predicted latencies, knees and allowed partition sizes
  kernels::Precision precision = kernels::Precision::F32;
  nlohmann::json options = nlohmann::json::object();  // the experiment's policy_options[name]
};

struct QueueState {
  int64_t queued = 0;           // requests waiting
  double oldest_arrival_s = 0;  // of the oldest waiting request (meaningful when queued > 0)
  bool in_flight = false;       // a run of this model is executing
  int64_t arrived = 0;          // requests arrived so far (accepted or not)
  int64_t expired = 0;          // queued requests already past their deadline (arrival + SLO)
};

struct View {
  double now_s = 0;
  // How many of model m's queued requests would miss their deadline if their run ended at t (the
  // oldest first: queues are in arrival order). For dropping work that can no longer be on time.
  std::function<int64_t(int m, double t)> late_if_finished_at;
  std::vector<QueueState> models;
  const ResolvedLayout* layout = nullptr;   // the layout in force
  std::vector<int> partition_runs;          // runs in flight per partition of it
  bool layout_pending = false;              // a requested layout waits for the GPU to drain
};

struct Dispatch {
  int model = 0;
  int64_t batch = 1;
  int partition = 0;
  DispatchMode dispatch = DispatchMode::graph;
};

struct Decision {
  std::optional<PartitionLayout> layout;       // switch to this layout (applied once drained)
  std::vector<Dispatch> dispatches;
  std::vector<std::pair<int, int64_t>> drops;  // (model, how many of its oldest requests)
  std::optional<double> wake_at_s;             // decide again at this time even if nothing happens
};

struct Completion {
  int model = 0;
  int64_t batch = 0;
  int partition = 0;
  double started_s = 0;
  double finished_s = 0;
  int64_t slo_misses = 0;  // requests of this batch that finished after their deadline
};

class Policy {
 public:
  virtual ~Policy() = default;
  // The initial layout; the loop applies it before the first request.
  virtual PartitionLayout start(const PolicyContext& context) = 0;
  virtual void on_arrival(int /*model*/, double /*t*/) {}
  virtual void on_completion(const Completion& /*c*/) {}
  virtual Decision decide(const View& view) = 0;
  // Reads `options` (the experiment's policy_options[name]) as start() would, so an experiment is
  // refused before anything runs: throws std::invalid_argument naming an unknown key, a wrong type
  // or a value out of range (runtime/sched/options.h).
  // The default: a policy with no options.
  virtual void check_options(const nlohmann::json& options) const {
    if (!options.is_null() && !options.empty())
      throw std::invalid_argument("this policy takes no options, got " + options.dump());
  }
};

}  // namespace dstack::sched
