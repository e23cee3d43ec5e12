#pragma once
// What a serving run achieved, from one record per request: per model and overall, requests, served,
// late and rejected counts, throughput, goodput, latency percentiles, SLO attainment, batch size; over
// the GPU, SM utilization (occupancy), SM allocation and Jain's fairness. Written as CSV and as JSON
// with provenance.
//
// Only requests that arrive inside the measurement window [start_s, end_s) count; those arriving
// earlier (warm-up) are reported as a separate count and take no part in any other number.
#include <cstdint>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace dstack::serve {

// served: finished within its SLO; late: finished after arrival + SLO; rejected: never ran. The serving
// loop decides; metrics only count.
enum class Outcome { served, late, rejected };
const char* outcome_name(Outcome o);  // "served" | "late" | "rejected"

// Why a request was rejected: its queue was full, the policy dropped it, or it was still queued when
// the run ended.
enum class RejectReason { none, queue_full, dropped, unserved };
const char* reject_reason_name(RejectReason r);  // "" | "queue_full" | "dropped" | "unserved"

struct RequestRecord {
  int model = 0;             // index into the models passed to compute_metrics
  double arrival_s = 0;      // from the start of serving
  double dispatched_s = -1;  // -1: never dispatched
  double finished_s = -1;    // -1: never finished
  int64_t batch = 0;         // of the run that served it
  Outcome outcome = Outcome::rejected;
  RejectReason reason = RejectReason::none;
};

struct ModelLoad {
  std::string name;
  double slo_ms = 0;
  double offered_rps = 0;  // the workload's mean rate over the window (its expected load)
};

struct MetricsWindow {
  double start_s = 0;  // the end of warm-up
  double end_s = 0;    // the end of the run
};

struct ModelMetrics {
  std::string name;
  int64_t warmup_requests = 0;  // arrived before the window: not measured
  int64_t requests = 0;         // arrived in the window
  int64_t served = 0;
  int64_t late = 0;
  int64_t rejected = 0;
  int64_t rejected_queue_full = 0;  // rejected, by reason (a rejection without a reason is in none)
  int64_t rejected_dropped = 0;
  int64_t rejected_unserved = 0;
  double offered_rps = 0;
  double throughput_rps = 0;  // (served + late) / window length
  double goodput_rps = 0;     // served / window length
  // Nearest rank over the latencies (finished - arrival) of completed (served + late) requests: the
  // p-th percentile is the ceil(p/100 * n)-th smallest of n. Empty when none completed.
  std::optional<double> p50_ms;
  std::optional<double> p95_ms;
  std::optional<double> p99_ms;
  std::optional<double> slo_attainment;  // served / requests: rejected and late are misses
  // Mean size of the batches that ran, from each completed request's batch b: n / sum(1/b), which is
  // the per-batch mean when every member of a batch is counted.
  std::optional<double> mean_batch;
  // The longest the model's queue was over the whole run (not only the window), set by the serving
  // loop's caller (ServeResult::peak_queued); it never exceeds the model's max_queue.
  std::optional<int64_t> peak_queued;
};

struct ServeMetrics {
  MetricsWindow window;
  std::vector<ModelMetrics> models;  // in the order of the ModelLoads
  ModelMetrics all;                  // every model together; name "all"
  // SM-seconds during which an SM held >= 1 resident thread block / (total SMs x window length):
  // what the kernels really filled. Empty when the backend cannot observe residency: it is never
  // stood in for by the allocation below, which reads ~100% for any whole-GPU policy that is busy.
  std::optional<double> sm_utilization;
  // SM-seconds of partitions with a run in flight / (total SMs x window length): what was lent.
  double sm_allocated = 0;
  // Jain's index over models of x_i = min(1, goodput_i / offered_i): (sum x)^2 / (n sum x^2), 1 when
  // every model gets the same share of its load. Empty when no model has offered load or all x are 0.
  std::optional<double> jain_fairness;
};

// `allocated_sm_seconds`: SM-time of partitions with a run in flight over the window;
// `occupied_sm_seconds`: SM-time with a resident block over the window (nullopt: not measurable).
// Throws std::invalid_argument for a record naming a model that does not exist, arriving at or after
// window.end_s, or completed in a batch < 1, and for an empty window.
ServeMetrics compute_metrics(const std::vector<RequestRecord>& records, const std::vector<ModelLoad>& models,
                             MetricsWindow window, double allocated_sm_seconds, int total_sms,
                             std::optional<double> occupied_sm_seconds = std::nullopt);

// One row per model then an `all` row; sm_utilization, sm_allocated and jain_fairness are filled on
// the `all` row only; an undefined value is an empty cell.
void write_metrics_csv(std::ostream& out, const ServeMetrics& metrics);

// {"provenance": ..., "window": ..., "definitions": ..., "sm_utilization", "sm_allocated", "jain_fairness",
// "models": [...], "all": {...}}; an undefined value is null.
nlohmann::json metrics_to_json(const ServeMetrics& metrics, const nlohmann::json& provenance);

}  // namespace dstack::serve
