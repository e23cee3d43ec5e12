#pragma once
// The serving loop: per-model queues fed by arrival times, a Policy deciding, a Backend (simulated
// or CUDA) executing, on the backend's clock only. Every request ends served, late or rejected
// (queue full, dropped by the policy, or still queued when the run ends): none is lost. CPU only.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/sched/policy.h"
#include "runtime/serve/metrics.h"  // RequestRecord, Outcome, RejectReason

namespace dstack::serve {

struct RunRecord {
  int model = 0;
  int64_t batch = 0;
  int layout = 0;          // index into ServeResult::layouts
  int partition = 0;
  int partition_sms = 0;
  int first_sm = 0;        // of the partition (whole GPU: 0)
  double submitted_s = 0;
  double started_s = 0;
  double finished_s = 0;
};

struct LayoutRecord {
  double at_s = 0;          // applied
  PartitionLayout requested;
  ResolvedLayout resolved;
};

struct ServeOptions {
  double duration_s = 0;    // arrivals lie in [0, duration)
  double drain_s = 0;       // after it, queued work may still be dispatched for this long
  std::string policy_name;  // for error messages
  double window_start_s = 0;  // the metrics window [window_start_s, duration_s): the end of warm-up
};

struct ServeResult {
  std::vector<RequestRecord> requests;  // in arrival order
  std::vector<RunRecord> runs;          // in completion order
  std::vector<LayoutRecord> layouts;
  double end_s = 0;                     // last completion (or the end of the drain)
  double clock_start_s = 0;             // the backend's clock when serving began (every time here is relative to it)
  // Per layout in force, the union of its partitions' busy intervals times their SMs.
  double busy_sm_seconds = 0;
  // The backend's occupied SM-seconds (Backend::occupied_sm_seconds) over the metrics window
  // [window_start_s, duration_s), read with the clock stopped at both ends; nullopt where the
  // backend cannot measure it.
  std::optional<double> window_occupied_sm_seconds;
  uint64_t decisions = 0;
  std::vector<int64_t> peak_queued;     // per model, the longest its queue was (bounded by max_queue)
};

// The union of each (layout, partition)'s run intervals within [from, to), times its SMs: the SM
// time a schedule kept busy (runs sharing a partition's SMs count once).
double busy_sm_seconds(const ServeResult& result, double from_s, double to_s);

// `arrivals[m]`: sorted arrival times of model m, seconds from the start. The context's models are
// registered with the backend under their names by the caller. Throws std::logic_error naming the
// policy when a decision breaks the rules in runtime/sched/policy.h.
ServeResult serve(Backend& backend, sched::Policy& policy, const sched::PolicyContext& context,
                  const std::vector<std::vector<double>>& arrivals, const ServeOptions& options);

}  // namespace dstack::serve
