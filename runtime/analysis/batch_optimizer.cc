#include "runtime/analysis/batch_optimizer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace dstack::analysis {
namespace {

struct Candidate {
  int64_t batch = 0;
  int sms = 0;
  double latency_s = 0;
};

struct Relaxed {
  bool latency = false, rate = false, max_batch = false;
};

bool meets_latency(const BatchProblem& p, double t) {
  return p.cycle_s ? *p.cycle_s + t <= p.slo_s : 2 * t <= p.slo_s;
}

bool meets_rate(const BatchProblem& p, int64_t b, double t) {
  // A hair of tolerance so that a batch exactly at rate·C (computed in floating point) qualifies.
  const double need = p.rate_rps * (p.cycle_s ? *p.cycle_s : t);
  return static_cast<double>(b) >= need * (1 - 1e-12);
}

double requests_per_run(const BatchProblem& p, int64_t b, double t) {
  if (p.rate_rps <= 0) return static_cast<double>(b);
  const double window = p.cycle_s ? *p.cycle_s : std::max(p.slo_s - t, 0.0);
  return std::min(static_cast<double>(b), std::max(1.0, p.rate_rps * window));
}

double cost(const BatchProblem& p, const Candidate& c) {
  return c.sms * c.latency_s / requests_per_run(p, c.batch, c.latency_s);
}

// The cheapest candidate under the constraints not relaxed; nullopt when none qualifies.
std::optional<Candidate> best(const BatchProblem& p, const std::vector<Candidate>& all, Relaxed r) {
  std::optional<Candidate> pick;
  double pick_cost = std::numeric_limits<double>::infinity();
  for (const Candidate& c : all) {  // ordered by SMs, then batch: the first of equals wins
    if (!r.max_batch && c.batch > p.max_batch) continue;
    if (!r.latency && !meets_latency(p, c.latency_s)) continue;
    if (!r.rate && !meets_rate(p, c.batch, c.latency_s)) continue;
    const double k = cost(p, c);
    if (k < pick_cost * (1 - 1e-9)) {
      pick = c;
      pick_cost = k;
    }
  }
  return pick;
}

std::string wait_rule(const BatchProblem& p) {
  return p.cycle_s ? fmt::format("a request waits up to the {:.3g} ms cycle, then runs", *p.cycle_s * 1e3)
                   : std::string("a request waits up to one batch, then runs in the next (2 x latency <= SLO)");
}

}  // namespace

const char* binding_name(Binding b) {
  switch (b) {
    case Binding::latency: return "latency";
    case Binding::rate: return "rate";
    case Binding::max_batch: return "max_batch";
    case Binding::cost: return "cost";
  }
  return "?";
}

BatchChoice choose_batch(const BatchProblem& p, const LatencyFn& latency) {
  if (!(p.slo_s > 0)) throw std::invalid_argument(fmt::format("SLO must be positive, not {} ms", p.slo_s * 1e3));
  if (!(p.rate_rps >= 0)) throw std::invalid_argument(fmt::format("rate must be >= 0, not {} rps", p.rate_rps));
  if (p.cycle_s && !(*p.cycle_s > 0))
    throw std::invalid_argument(fmt::format("cycle must be positive, not {} ms", *p.cycle_s * 1e3));
  if (p.max_batch < 1) throw std::invalid_argument(fmt::format("max batch must be >= 1, not {}", p.max_batch));
  if (p.sms.empty()) throw std::invalid_argument("no candidate partition sizes");

  // Candidates up to twice the max batch, so that relaxing the cap can show whether it binds.
  std::vector<int> sms = p.sms;
  std::sort(sms.begin(), sms.end());
  std::vector<Candidate> all;
  for (int s : sms)
    for (int64_t b = 1; b <= 2 * p.max_batch; ++b) all.push_back({b, s, latency(b, s)});

  const auto chosen = best(p, all, {});
  if (!chosen) {
    double fastest = std::numeric_limits<double>::infinity();
    int fastest_sms = sms.back();
    for (int s : sms) {
      const double t = latency(1, s);
      if (t < fastest) fastest = t, fastest_sms = s;
    }
    if (!best(p, all, {.rate = true})) {
      const double smallest = p.cycle_s ? *p.cycle_s + fastest : 2 * fastest;
      throw InfeasibleBatch(fmt::format(
          "SLO {:.3g} ms cannot be met: the fastest run (batch 1 on {} SMs) takes {:.3g} ms and {}; the smallest "
          "SLO that works is {:.3g} ms{}",
          p.slo_s * 1e3, fastest_sms, fastest * 1e3, wait_rule(p), smallest * 1e3,
          p.cycle_s ? " (or shorten the cycle)" : ""));
    }
    // Latency can be met, but no batch keeps up: report the best sustainable rate.
    double max_rate = 0;
    Candidate at{};
    for (const Candidate& c : all) {
      if (c.batch > p.max_batch || !meets_latency(p, c.latency_s)) continue;
      const double r = static_cast<double>(c.batch) / (p.cycle_s ? *p.cycle_s : c.latency_s);
      if (r > max_rate) max_rate = r, at = c;
    }
    throw InfeasibleBatch(fmt::format(
        "rate {:.4g} rps cannot be served within the {:.3g} ms SLO: at most {:.4g} rps (batch {} on {} SMs, "
        "{:.3g} ms per batch{}); lower the rate, relax the SLO{}",
        p.rate_rps, p.slo_s * 1e3, max_rate, at.batch, at.sms, at.latency_s * 1e3,
        p.cycle_s ? ", one batch per cycle" : "", best(p, all, {.max_batch = true}) ? " or raise the max batch" : ""));
  }

  BatchChoice c;
  c.batch = chosen->batch;
  c.sms = chosen->sms;
  c.latency_s = chosen->latency_s;
  c.requests_per_run = requests_per_run(p, c.batch, c.latency_s);
  c.capacity_rps = static_cast<double>(c.batch) / c.latency_s;
  c.sm_seconds_per_request = cost(p, *chosen);
  auto cheaper = [&](Relaxed r) {
    const auto alt = best(p, all, r);
    return alt && cost(p, *alt) < c.sm_seconds_per_request * (1 - 1e-9) ? alt : std::nullopt;
  };
  if (const auto alt = cheaper({.latency = true})) {
    c.binding = Binding::latency;
    c.why = fmt::format("latency binds: batch {} on {} SMs would cost less SM-time per request but takes {:.3g} ms, "
                        "over the SLO's bound ({})",
                        alt->batch, alt->sms, alt->latency_s * 1e3, wait_rule(p));
  } else if (const auto alt2 = cheaper({.rate = true})) {
    c.binding = Binding::rate;
    c.why = fmt::format("rate binds: batch {} on {} SMs would cost less but cannot keep up with {:.4g} rps "
                        "(a batch must hold at least {:.3g} requests)",
                        alt2->batch, alt2->sms, p.rate_rps,
                        p.rate_rps * (p.cycle_s ? *p.cycle_s : alt2->latency_s));
  } else if (const auto alt3 = cheaper({.max_batch = true})) {
    c.binding = Binding::max_batch;
    c.why = fmt::format("the max batch ({}) binds: batch {} on {} SMs would cost less", p.max_batch, alt3->batch,
                        alt3->sms);
  } else {
    c.binding = Binding::cost;
    const int64_t next = c.batch + 1;
    const bool fill_limited = p.rate_rps > 0 && requests_per_run(p, next, latency(next, c.sms)) <= c.requests_per_run;
    c.why = fill_limited
                ? fmt::format("cheapest: no constraint binds; larger batches would not fill at {:.4g} rps",
                              p.rate_rps)
                : std::string("cheapest: no constraint binds; this is the least SM-time per request");
  }
  return c;
}

}  // namespace dstack::analysis
