// Nexus's squishy bin packing on one GPU (../shared/PAPER.md, "Baselines"): a duty cycle, batches
// fit to it, the models time-shared on the whole GPU.
//
// Rules:
//  - the layout is the whole GPU ({sm_count}); one run at a time;
//  - a duty cycle D: duty_cycle_ms when set; by default min_i SLO_i / 2 when that serves every
//    model's rate, else "squishy": the D, among 32 candidates between every batch-1 run back to
//    back and the longest cycle that keeps some model's batch-1 run within its SLO, whose fitted
//    batches serve the most requests per second within their SLOs (our interpretation for one GPU:
//    Nexus would add GPUs; with min SLO / 2 fixed, a tight SLO beside slow models shrank every
//    batch to 1 and served a tenth of the load). A model the chosen D cannot serve in time still
//    takes its turn with batch 1; its requests are dropped early or late;
//  - each model's batch b_i = ceil(rate_i·D) (at least 1),
//    capped by the largest batch with D + T_i(b_i, all) <= SLO_i (a request waits at most a duty
//    cycle, then runs; batch 1 when even it misses) and by max_batch;
//  - one GPU only (Nexus would add GPUs): when the runs of one cycle do not fit, sum_i T_i(b_i, all)
//    > D, our interpretation is to shrink the batches in proportion to their fitted sizes (every
//    model keeps about the same fraction of its rate, so the largest batches lose the most): one
//    request at a time from the batch with the largest fraction of its fitted size left (ties: the
//    larger batch, the longer run, the lower index), until they fit or every batch is 1; the
//    requests the smaller batches cannot carry expire (overload). (Shrinking the largest batch
//    first, literally, starves the cheap high-rate models: mobilenet's batch of 42 falls to 7
//    while saving little time.)
//  - each duty cycle visits the models in a fixed order (model index); a model with requests runs
//    one batch of up to b_i of its oldest requests, a model without is skipped. A cycle starts D
//    after the previous one started (the GPU idles until then: batches gather a cycle's arrivals),
//    or at once when the previous one ran over; option work_conserving starts the next cycle as
//    soon as the previous one ends;
//  - rates start at the configured ones and are re-estimated online (EWMA over epochs, as for
//    D-STACK: RateEstimator in policy_support.h); the batches are refit each epoch (option
//    adapt_rates = false keeps the configured rates);
//  - Nexus drops requests that would miss their deadline (early drop): requests already past their
//    deadline are dropped before each decision, and when a model's batch is dispatched, the oldest
//    queued requests that would finish late in it (arrival + SLO < now + T_i(batch, all)) are
//    dropped first, so that the batch carries requests that can still make it. All drops count as
//    rejected. The View gives only the oldest arrival, so the policy mirrors each queue's arrival
//    times from on_arrival, trimmed to the loop's queue length (exact unless the loop turned
//    arrivals away with a full queue, which early drop keeps from happening at ordinary sizes).
// Options (ctx.options): duty_cycle_ms (0 = min SLO / 2 or squishy, above), max_batch (64), work_conserving (false),
// adapt_rates (true), epoch_s (0.5), ewma (0.5), drop_expired (true: drop expired requests),
// early_drop (true: also drop those that would finish late in the batch being dispatched).
#include <algorithm>
#include <cmath>
#include <deque>
#include <vector>

#include "runtime/sched/policy_support.h"

namespace dstack::sched {
namespace {

struct Options {
  double duty_cycle_ms = 0;
  int64_t max_batch = 64;
  bool work_conserving = false;
  bool adapt_rates = true;
  RateOptions rates;
  bool drop_expired = true;
  bool early_drop = true;
};

Options read_options(const nlohmann::json& j) {
  OptionReader r(j, "nexus");
  Options o;
  o.duty_cycle_ms = r.number("duty_cycle_ms", o.duty_cycle_ms, 0.0, kMaxCycleMs);
  o.max_batch = r.integer("max_batch", o.max_batch, 1, kMaxBatchOption);
  o.work_conserving = r.flag("work_conserving", o.work_conserving);
  o.adapt_rates = r.flag("adapt_rates", o.adapt_rates);
  o.rates = read_rate_options(r);
  o.drop_expired = r.flag("drop_expired", o.drop_expired);
  o.early_drop = r.flag("early_drop", o.early_drop);
  r.done();
  return o;
}

// Relative slack when comparing times computed in floating point (a run that exactly fills the
// cycle fits).
constexpr double kTol = 1e-9;

class NexusPolicy final : public Policy {
 public:
  void check_options(const nlohmann::json& options) const override { read_options(options); }
  PartitionLayout start(const PolicyContext& ctx) override {
    ctx_ = &ctx;
    o_ = read_options(ctx.options);
    const std::size_t n = ctx.models.size();
    duty_s_ = cycle_or_default(o_.duty_cycle_ms, ctx.models);
    rates_.start(ctx.models, o_.rates);
    arrivals_.assign(n, {});
    fit();
    next_ = n;  // no cycle yet: the first starts at the first decision
    return {{ctx.oracle->sm_count()}};
  }

  void on_arrival(int model, double t) override {
    rates_.count(model);
    arrivals_[static_cast<std::size_t>(model)].push_back(t);
  }

  Decision decide(const View& v) override {
    Decision d;
    if (rates_.advance(v.now_s) && o_.adapt_rates) fit();
    d.wake_at_s = rates_.epoch_end();
    const std::size_t n = v.models.size();
    trim_mirrors(v);
    std::vector<int64_t> queued = live_queues(v, o_.drop_expired, d);
    if (v.layout_pending || any_in_flight(v)) return d;  // time-shared: one run at a time
    while (true) {
      for (; next_ < n; ++next_) {
        if (o_.early_drop && queued[next_] > 0) {
          const int64_t k = would_miss(next_, queued[next_], v.now_s);
          if (k > 0) {
            add_drop(d, static_cast<int>(next_), k);
            queued[next_] -= k;
          }
        }
        if (queued[next_] > 0) break;
      }
      if (next_ < n) {
        d.dispatches.push_back({static_cast<int>(next_), std::min(queued[next_], batch_[next_]), 0});
        ++next_;
        return d;
      }
      // The cycle is over: the next one starts D after this one started (or now, if later).
      const double next_start = o_.work_conserving || !started_ ? v.now_s : cycle_start_ + duty_s_;
      if (next_start > v.now_s) {
        d.wake_at_s = std::min(*d.wake_at_s, next_start);
        return d;
      }
      bool any = false;
      for (std::size_t m = 0; m < n; ++m) any = any || queued[m] > 0;
      if (!any) return d;  // nothing to run: the next cycle starts with the next request
      cycle_start_ = v.now_s;
      started_ = true;
      next_ = 0;
    }
  }

 private:
  // The loop took or dropped each queue's oldest requests: the mirrors follow its queue lengths.
  void trim_mirrors(const View& v) {
    for (std::size_t m = 0; m < arrivals_.size(); ++m) {
      auto& mirror = arrivals_[m];
      while (static_cast<int64_t>(mirror.size()) > v.models[m].queued) mirror.pop_front();
    }
  }

  // How many of model m's `live` oldest unexpired queued requests would finish after their
  // deadline in a batch dispatched now.
  int64_t would_miss(std::size_t m, int64_t live, double now) const {
    const auto& mirror = arrivals_[m];
    if (static_cast<int64_t>(mirror.size()) < live) return 0;  // out of step: drop nothing
    const double t = ctx_->oracle->latency_s(static_cast<int>(m), std::min(live, batch_[m]), ctx_->oracle->sm_count());
    const double slo = ctx_->models[m].slo_s;
    int64_t k = 0;
    for (std::size_t j = mirror.size() - static_cast<std::size_t>(live); j < mirror.size(); ++j, ++k)
      if (!(mirror[j] + slo < now + t)) break;
    return k;
  }

  // The batches, and with the default duty cycle the cycle itself, for the current rates.
  void fit() {
    const std::vector<double>& rate = rates_.rates();
    const std::size_t n = rate.size();
    const int all = ctx_->oracle->sm_count();
    // T_i(b, whole GPU) for b = 1..max_batch, looked up by every candidate below.
    time_.assign(n, {});
    for (std::size_t i = 0; i < n; ++i)
      for (int64_t b = 1; b <= o_.max_batch; ++b)
        time_[i].push_back(ctx_->oracle->latency_s(static_cast<int>(i), b, all));
    const double half_min_slo = cycle_or_default(0, ctx_->models);
    if (o_.duty_cycle_ms > 0) {
      batch_ = fit_to(duty_s_);
      return;
    }
    // Squishy (our interpretation for one GPU, where Nexus would add GPUs): the duty cycle that
    // serves the most requests per second within their SLOs, among min SLO / 2 (kept when it
    // serves every rate) and 32 cycles spaced geometrically from every batch-1 run back to back up
    // to the longest cycle that leaves some model's batch-1 run within its SLO.
    double lo = 0, hi = 0;
    for (std::size_t i = 0; i < n; ++i) {
      lo += time_[i][0];
      hi = std::max(hi, ctx_->models[i].slo_s - time_[i][0]);
    }
    std::vector<double> candidates{half_min_slo};
    if (hi > lo && lo > 0)
      for (int k = 0; k < 32; ++k) candidates.push_back(lo * std::pow(hi / lo, k / 31.0));
    double best_served = -1;
    for (double d : candidates) {
      std::vector<int64_t> b = fit_to(d);
      const double served = served_rps(b, d);
      if (served > best_served * (1 + kTol)) {
        best_served = served;
        duty_s_ = d;
        batch_ = std::move(b);
      }
      if (d == half_min_slo && served >= total(rate) * (1 - kTol)) break;  // serves every rate
    }
  }

  static double total(const std::vector<double>& v) {
    double t = 0;
    for (double x : v) t += x;
    return t;
  }

  double run_time(std::size_t i, int64_t b) const { return time_[i][static_cast<std::size_t>(b - 1)]; }

  // Requests per second a cycle of D with these batches serves within their SLOs: each model's
  // batch per cycle (a cycle lasts D, or longer when its runs overrun it), at most its rate, and
  // nothing for a model whose wait of a cycle plus its run exceeds its SLO (it still takes its
  // turn: its requests are dropped or late).
  double served_rps(const std::vector<int64_t>& b, double d) const {
    double cycle = 0;
    for (std::size_t i = 0; i < b.size(); ++i) cycle += run_time(i, b[i]);
    cycle = std::max(cycle, d);
    double served = 0;
    for (std::size_t i = 0; i < b.size(); ++i)
      if (cycle + run_time(i, b[i]) <= ctx_->models[i].slo_s * (1 + kTol))
        served += std::min(rates_.rates()[i], static_cast<double>(b[i]) / cycle);
    return served;
  }

  // Each model's batch for a duty cycle of d: a cycle's arrivals, capped by d + T_i(b) <= SLO_i and
  // max_batch, then shrunk in proportion until the runs fit in d (see the rules above).
  std::vector<int64_t> fit_to(double d) const {
    const std::vector<double>& rate = rates_.rates();
    const std::size_t n = rate.size();
    std::vector<int64_t> batch(n, 1);
    for (std::size_t i = 0; i < n; ++i) {
      int64_t b = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(rate[i] * d - 1e-9)));
      b = std::min(b, o_.max_batch);
      while (b > 1 && d + run_time(i, b) > ctx_->models[i].slo_s * (1 + kTol)) --b;
      batch[i] = b;
    }
    double cycle = 0;
    for (std::size_t i = 0; i < n; ++i) cycle += run_time(i, batch[i]);
    const std::vector<int64_t> want = batch;
    while (cycle > d * (1 + kTol)) {
      // The batch with the largest fraction of its fitted size left loses a request.
      std::size_t pick = n;
      for (std::size_t i = 0; i < n; ++i) {
        if (batch[i] <= 1) continue;
        if (pick == n) {
          pick = i;
          continue;
        }
        const int64_t a = batch[i] * want[pick], z = batch[pick] * want[i];  // ratios, cross-multiplied
        if (a > z || (a == z && (batch[i] > batch[pick] ||
                                 (batch[i] == batch[pick] && run_time(i, batch[i]) > run_time(pick, batch[pick])))))
          pick = i;
      }
      if (pick == n) break;
      cycle -= run_time(pick, batch[pick]) - run_time(pick, batch[pick] - 1);
      --batch[pick];
    }
    return batch;
  }

  const PolicyContext* ctx_ = nullptr;
  Options o_;
  double duty_s_ = 0;
  RateEstimator rates_;
  std::vector<std::deque<double>> arrivals_;  // per model: arrival times of its queued requests
  std::vector<int64_t> batch_;
  std::vector<std::vector<double>> time_;  // per model: T(b, whole GPU), b = 1..max_batch
  std::size_t next_ = 0;      // the next model of the current cycle (n: the cycle is over)
  double cycle_start_ = 0;
  bool started_ = false;
};

}  // namespace

std::unique_ptr<Policy> make_nexus_policy() { return std::make_unique<NexusPolicy>(); }

}  // namespace dstack::sched
