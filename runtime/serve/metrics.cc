#include "runtime/serve/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <stdexcept>

namespace dstack::serve {

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::served: return "served";
    case Outcome::late: return "late";
    case Outcome::rejected: return "rejected";
  }
  return "?";
}

const char* reject_reason_name(RejectReason r) {
  switch (r) {
    case RejectReason::none: return "";
    case RejectReason::queue_full: return "queue_full";
    case RejectReason::dropped: return "dropped";
    case RejectReason::unserved: return "unserved";
  }
  return "?";
}

namespace {

using nlohmann::json;

// What one group of requests (a model, or all of them) accumulates before the rates are taken.
struct Tally {
  ModelMetrics m;
  std::vector<double> latencies_ms;
  double inverse_batch_sum = 0;

  void add(const RequestRecord& r) {
    ++m.requests;
    if (r.outcome == Outcome::rejected) {
      ++m.rejected;
      if (r.reason == RejectReason::queue_full) ++m.rejected_queue_full;
      if (r.reason == RejectReason::dropped) ++m.rejected_dropped;
      if (r.reason == RejectReason::unserved) ++m.rejected_unserved;
      return;
    }
    ++(r.outcome == Outcome::served ? m.served : m.late);
    latencies_ms.push_back((r.finished_s - r.arrival_s) * 1e3);
    inverse_batch_sum += 1.0 / static_cast<double>(r.batch);
  }

  ModelMetrics finish(double window_s) {
    m.throughput_rps = static_cast<double>(m.served + m.late) / window_s;
    m.goodput_rps = static_cast<double>(m.served) / window_s;
    if (m.requests > 0) m.slo_attainment = static_cast<double>(m.served) / static_cast<double>(m.requests);
    if (!latencies_ms.empty()) {
      std::sort(latencies_ms.begin(), latencies_ms.end());
      m.p50_ms = nearest_rank(50);
      m.p95_ms = nearest_rank(95);
      m.p99_ms = nearest_rank(99);
      m.mean_batch = static_cast<double>(latencies_ms.size()) / inverse_batch_sum;
    }
    return m;
  }

  double nearest_rank(int p) const {
    const std::size_t n = latencies_ms.size();
    // ceil(p * n / 100) in integers: no floating-point rounding can move the rank.
    const std::size_t rank = std::max<std::size_t>(1, (static_cast<std::size_t>(p) * n + 99) / 100);
    return latencies_ms[rank - 1];
  }
};

std::string cell(const std::optional<double>& v) { return v ? fmt::format("{:.6g}", *v) : ""; }

json value_or_null(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json model_json(const ModelMetrics& m) {
  return {{"name", m.name},
          {"warmup_requests", m.warmup_requests},
          {"requests", m.requests},
          {"served", m.served},
          {"late", m.late},
          {"rejected", m.rejected},
          {"rejected_queue_full", m.rejected_queue_full},
          {"rejected_dropped", m.rejected_dropped},
          {"rejected_unserved", m.rejected_unserved},
          {"offered_rps", m.offered_rps},
          {"throughput_rps", m.throughput_rps},
          {"goodput_rps", m.goodput_rps},
          {"slo_attainment", value_or_null(m.slo_attainment)},
          {"p50_ms", value_or_null(m.p50_ms)},
          {"p95_ms", value_or_null(m.p95_ms)},
          {"p99_ms", value_or_null(m.p99_ms)},
          {"mean_batch", value_or_null(m.mean_batch)},
          {"peak_queued", m.peak_queued ? json(*m.peak_queued) : json(nullptr)}};
}

}  // namespace

ServeMetrics compute_metrics(const std::vector<RequestRecord>& records, const std::vector<ModelLoad>& models,
                             MetricsWindow window, double allocated_sm_seconds, int total_sms,
                             std::optional<double> occupied_sm_seconds) {
  const double window_s = window.end_s - window.start_s;
  if (!(window_s > 0) || total_sms <= 0)
    throw std::invalid_argument(fmt::format("metrics: the window [{}, {}) s is empty or the GPU has {} SMs",
                                            window.start_s, window.end_s, total_sms));
  std::vector<Tally> per_model(models.size());
  Tally all;
  for (std::size_t i = 0; i < models.size(); ++i) {
    per_model[i].m.name = models[i].name;
    per_model[i].m.offered_rps = models[i].offered_rps;
    all.m.offered_rps += models[i].offered_rps;
  }
  all.m.name = "all";
  for (std::size_t i = 0; i < records.size(); ++i) {
    const RequestRecord& r = records[i];
    if (r.model < 0 || static_cast<std::size_t>(r.model) >= models.size())
      throw std::invalid_argument(fmt::format("metrics: record {} names model {}, but there are {} models", i,
                                              r.model, models.size()));
    if (r.arrival_s >= window.end_s)
      throw std::invalid_argument(fmt::format("metrics: record {} arrives at {} s, not before the window's end {} s",
                                              i, r.arrival_s, window.end_s));
    if (r.outcome != Outcome::rejected && r.batch < 1)
      throw std::invalid_argument(fmt::format("metrics: record {} completed in a batch of {}; a batch has >= 1 request",
                                              i, r.batch));
    if (r.arrival_s < window.start_s) {
      ++per_model[static_cast<std::size_t>(r.model)].m.warmup_requests;
      ++all.m.warmup_requests;
      continue;
    }
    per_model[static_cast<std::size_t>(r.model)].add(r);
    all.add(r);
  }

  ServeMetrics out;
  out.window = window;
  double sum = 0;
  double sum_squares = 0;
  int shares = 0;
  for (auto& t : per_model) {
    out.models.push_back(t.finish(window_s));
    const ModelMetrics& m = out.models.back();
    if (m.offered_rps > 0) {
      const double x = std::min(1.0, m.goodput_rps / m.offered_rps);
      sum += x;
      sum_squares += x * x;
      ++shares;
    }
  }
  out.all = all.finish(window_s);
  const double capacity = total_sms * window_s;
  out.sm_allocated = allocated_sm_seconds / capacity;
  if (occupied_sm_seconds) out.sm_utilization = *occupied_sm_seconds / capacity;
  if (sum_squares > 0) out.jain_fairness = sum * sum / (shares * sum_squares);
  return out;
}

void write_metrics_csv(std::ostream& out, const ServeMetrics& metrics) {
  out << "model,warmup_requests,requests,served,late,rejected,rejected_queue_full,rejected_dropped,"
         "rejected_unserved,offered_rps,throughput_rps,goodput_rps,slo_attainment,p50_ms,p95_ms,p99_ms,mean_batch,"
         "sm_utilization,sm_allocated,jain_fairness\n";
  auto row = [&](const ModelMetrics& m, const std::string& gpu_cells) {
    out << fmt::format("{},{},{},{},{},{},{},{},{},{:.6g},{:.6g},{:.6g},{},{},{},{},{},{}\n", m.name,
                       m.warmup_requests, m.requests, m.served, m.late, m.rejected, m.rejected_queue_full,
                       m.rejected_dropped, m.rejected_unserved, m.offered_rps, m.throughput_rps, m.goodput_rps,
                       cell(m.slo_attainment), cell(m.p50_ms), cell(m.p95_ms), cell(m.p99_ms), cell(m.mean_batch),
                       gpu_cells);
  };
  for (const auto& m : metrics.models) row(m, ",,");
  row(metrics.all, fmt::format("{},{:.6g},{}", cell(metrics.sm_utilization), metrics.sm_allocated,
                               cell(metrics.jain_fairness)));
}

json metrics_to_json(const ServeMetrics& metrics, const json& provenance) {
  json models = json::array();
  for (const auto& m : metrics.models) models.push_back(model_json(m));
  return {{"provenance", provenance},
          {"window", {{"start_s", metrics.window.start_s}, {"end_s", metrics.window.end_s}}},
          {"definitions",
           {{"requests", "requests arriving in the window; warmup_requests arrived before it and are not measured"},
            {"throughput_rps", "completed (served + late) requests per second of the window"},
            {"goodput_rps", "requests completed within their SLO per second of the window"},
            {"slo_attainment", "served / requests; late and rejected requests are misses"},
            {"percentiles", "nearest rank over completed requests' latencies: the ceil(p/100 n)-th smallest of n"},
            {"mean_batch", "mean size of the batches that ran: completed / sum(1 / batch)"},
            {"sm_utilization",
             "SM-seconds during which an SM holds >= 1 resident thread block / (total SMs x window length); "
             "null when the backend cannot observe residency"},
            {"sm_allocated", "SM-seconds of partitions with a run in flight / (total SMs x window length)"},
            {"jain_fairness", "Jain's index over models of min(1, goodput / offered rate)"}}},
          {"sm_utilization", value_or_null(metrics.sm_utilization)},
          {"sm_allocated", metrics.sm_allocated},
          {"jain_fairness", value_or_null(metrics.jain_fairness)},
          {"models", models},
          {"all", model_json(metrics.all)}};
}

}  // namespace dstack::serve
