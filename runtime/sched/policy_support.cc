#include "runtime/sched/policy_support.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace dstack::sched {

RateOptions read_rate_options(OptionReader& r) {
  RateOptions o;
  o.epoch_s = r.positive("epoch_s", o.epoch_s);
  o.ewma = r.number("ewma", o.ewma, 0.0, 1.0);
  return o;
}

void RateEstimator::start(const std::vector<ModelSpec>& models, RateOptions options) {
  o_ = options;
  rate_.clear();
  for (const auto& m : models) rate_.push_back(m.rate_rps);
  counts_.assign(models.size(), 0);
  epoch_end_ = 0;
}

void RateEstimator::count(int model) { ++counts_[static_cast<std::size_t>(model)]; }

bool RateEstimator::advance(double now) {
  if (epoch_end_ == 0) epoch_end_ = now + o_.epoch_s;
  if (!(now >= epoch_end_)) return false;
  const double span = now - (epoch_end_ - o_.epoch_s);
  for (std::size_t i = 0; i < rate_.size(); ++i) {
    const double observed = static_cast<double>(counts_[i]) / std::max(span, 1e-9);
    rate_[i] = o_.ewma * observed + (1 - o_.ewma) * rate_[i];
    counts_[i] = 0;
  }
  epoch_end_ = now + o_.epoch_s;
  return true;
}

bool rates_moved(const std::vector<double>& rates, const std::vector<double>& planned, double change) {
  for (std::size_t i = 0; i < rates.size(); ++i)
    if (std::abs(rates[i] - planned[i]) > change * std::max(planned[i], 1.0)) return true;
  return false;
}

double half_min_slo(const std::vector<ModelSpec>& models) {
  double bound = INFINITY;
  for (const auto& m : models) bound = std::min(bound, m.slo_s / 2);
  return bound;
}

double cycle_or_default(double cycle_ms, const std::vector<ModelSpec>& models) {
  const double cycle_s = cycle_ms * 1e-3;
  return cycle_s > 0 ? cycle_s : half_min_slo(models);
}

std::vector<int> split_sizes(const Oracle& oracle) {
  std::vector<int> sizes;
  for (int s : oracle.partition_sizes())
    if (s < oracle.sm_count()) sizes.push_back(s);
  return sizes;
}

analysis::BatchProblem batch_problem(const ModelSpec& model, double rate_rps, std::optional<double> cycle_s,
                                     std::vector<int> sms, int64_t max_batch) {
  analysis::BatchProblem p;
  p.slo_s = model.slo_s;
  p.rate_rps = rate_rps;
  p.cycle_s = cycle_s;
  p.max_batch = max_batch;
  p.sms = std::move(sms);
  return p;
}

std::optional<analysis::BatchChoice> feasible_batch(const Oracle& oracle, int model,
                                                    const analysis::BatchProblem& problem) {
  try {
    return oracle.choose_batch(model, problem);
  } catch (const analysis::InfeasibleBatch&) {
    return std::nullopt;
  }
}

analysis::BatchChoice batch_or_fallback(const Oracle& oracle, int model, analysis::BatchProblem problem) {
  if (auto c = feasible_batch(oracle, model, problem)) return *c;
  problem.rate_rps = 0;  // 0 = unknown rate: the latency bound alone decides
  if (auto c = feasible_batch(oracle, model, problem)) return *c;
  analysis::BatchChoice c;
  c.batch = 1;
  c.sms = problem.sms.back();
  c.latency_s = oracle.latency_s(model, 1, c.sms);
  return c;
}

std::vector<int64_t> fallback_batches(const PolicyContext& ctx, const std::vector<double>& rates_rps,
                                      std::optional<double> cycle_s, const std::vector<int>& sms, int64_t max_batch) {
  std::vector<int64_t> batch(rates_rps.size());
  for (std::size_t i = 0; i < rates_rps.size(); ++i) {
    const auto p = batch_problem(ctx.models[i], rates_rps[i], cycle_s, sms, max_batch);
    batch[i] = batch_or_fallback(*ctx.oracle, static_cast<int>(i), p).batch;
  }
  return batch;
}

void add_drop(Decision& d, int model, int64_t n) {
  for (auto& [m, k] : d.drops)
    if (m == model) {
      k += n;
      return;
    }
  d.drops.emplace_back(model, n);
}

std::vector<int64_t> live_queues(const View& v, bool drop_expired, Decision& d) {
  std::vector<int64_t> live(v.models.size());
  for (std::size_t m = 0; m < v.models.size(); ++m) {
    const QueueState& q = v.models[m];
    live[m] = q.queued;
    if (drop_expired && q.expired > 0) {
      add_drop(d, static_cast<int>(m), q.expired);
      live[m] -= q.expired;
    }
  }
  return live;
}

void drop_late(const View& v, int m, double run_s, std::vector<int64_t>& queued, Decision& d) {
  const auto i = static_cast<std::size_t>(m);
  const int64_t late = std::min(v.late_if_finished_at(m, v.now_s + run_s), queued[i]) - v.models[i].expired;
  if (late <= 0) return;
  add_drop(d, m, late);
  queued[i] -= late;
}

bool any_in_flight(const View& v) {
  return std::any_of(v.models.begin(), v.models.end(), [](const QueueState& q) { return q.in_flight; });
}

namespace {

// A model that may dispatch now: live requests and no run in flight (one batch at a time).
bool ready(const View& v, const std::vector<int64_t>& live, std::size_t m) {
  return live[m] > 0 && !v.models[m].in_flight;
}

}  // namespace

void dispatch_greedy(const View& v, const std::vector<int64_t>& live, const std::vector<int64_t>& batch, Decision& d,
                     const std::vector<int>& partition, DispatchMode mode) {
  for (std::size_t m = 0; m < live.size(); ++m) {
    if (!ready(v, live, m)) continue;
    const int p = partition.empty() ? 0 : partition[m];
    d.dispatches.push_back({static_cast<int>(m), std::min(live[m], batch[m]), p, mode});
  }
}

// Slack for comparing the clock with a wake-up time computed from it.
constexpr double kClockSlack = 1e-9;

void dispatch_full_or_due(const View& v, const std::vector<int64_t>& live, int64_t batch,
                          const std::vector<double>& wait_s, Decision& d) {
  for (std::size_t m = 0; m < live.size(); ++m) {
    if (!ready(v, live, m)) continue;
    const double due = v.models[m].oldest_arrival_s + wait_s[m];
    if (live[m] >= batch || v.now_s + kClockSlack >= due) {
      d.dispatches.push_back({static_cast<int>(m), std::min(live[m], batch), 0});
    } else {
      d.wake_at_s = std::min(d.wake_at_s.value_or(INFINITY), due);
    }
  }
}

}  // namespace dstack::sched
