// Temporal multiplexing (../shared/PAPER.md, "Baselines"): one model at a time on the whole GPU.
//
// Rules:
//  - the layout is the whole GPU ({sm_count}) and at most one run is in flight overall;
//  - when the GPU is free, the next model in round-robin order (model index order, starting after
//    the model that ran last) that has requests runs a batch of up to b_i of its oldest requests;
//  - b_i comes from the batch optimizer on the whole GPU (sms = {sm_count}) with a cycle C: our
//    interpretation of "batch by SLO" is that a request waits at most one round-robin period C and
//    then runs, so C + T_i(b_i, all) <= SLO_i and b_i >= rate_i·C (a run absorbs a period's
//    arrivals). C is cycle_ms when set. By default it is chosen so that the round is stable: the
//    real round is the sum of the runs, sum_i T_i(b_i, all), and when it exceeds C each round
//    brings more arrivals than the batches carry and the queues grow without bound (with
//    C = min SLO / 2 fixed, three models at half the GPU's capacity met no SLO at all). Among
//    min_i SLO_i / 2 and 31 cycles spaced geometrically up to max_i SLO_i, with each batch raised
//    to at least a cycle's arrivals, the policy takes the shortest cycle whose arrivals run within
//    90% of it (headroom for bursts) that meets the most models' C + T_i <= SLO_i; when none does,
//    the one that serves the most requests per second. When no batch keeps up with the rate, the
//    cheapest batch under the latency bound alone is used (the model is overloaded); when not even
//    batch 1 meets the SLO, batch 1.
//  - rates start at the configured ones and are re-estimated online (EWMA over epochs, as for
//    D-STACK: RateEstimator in policy_support.h); the batches are recomputed at every epoch (the
//    layout never changes).
//  - requests are run even when late, unless drop_expired (then requests already past their
//    deadline are dropped, counted as rejected).
// Options (ctx.options): cycle_ms (0 = chosen, above), max_batch (64), epoch_s (0.5), ewma (0.5),
// drop_expired (false).
#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include "runtime/sched/policy_support.h"

namespace dstack::sched {
namespace {

struct Options {
  double cycle_ms = 0;
  int64_t max_batch = 64;
  RateOptions rates;
  bool drop_expired = false;
};

Options read_options(const nlohmann::json& j) {
  OptionReader r(j, "temporal");
  Options o;
  o.cycle_ms = r.number("cycle_ms", o.cycle_ms, 0.0, kMaxCycleMs);
  o.max_batch = r.integer("max_batch", o.max_batch, 1, kMaxBatchOption);
  o.rates = read_rate_options(r);
  o.drop_expired = r.flag("drop_expired", o.drop_expired);
  r.done();
  return o;
}

// A stable round leaves this share of the cycle for bursts.
constexpr double kHeadroom = 0.9;

class TemporalPolicy final : public Policy {
 public:
  void check_options(const nlohmann::json& options) const override { read_options(options); }
  PartitionLayout start(const PolicyContext& ctx) override {
    ctx_ = &ctx;
    o_ = read_options(ctx.options);
    cycle_s_ = cycle_or_default(o_.cycle_ms, ctx.models);
    rates_.start(ctx.models, o_.rates);
    last_ = ctx.models.size() - 1;  // so that model 0 goes first
    replan();
    return {{ctx.oracle->sm_count()}};
  }

  void on_arrival(int model, double /*t*/) override { rates_.count(model); }

  Decision decide(const View& v) override {
    Decision d;
    if (rates_.advance(v.now_s)) replan();
    d.wake_at_s = rates_.epoch_end();
    const std::vector<int64_t> live = live_queues(v, o_.drop_expired, d);
    if (v.layout_pending || any_in_flight(v)) return d;  // one run at a time on the GPU
    const std::size_t n = v.models.size();
    for (std::size_t k = 1; k <= n; ++k) {
      const std::size_t m = (last_ + k) % n;
      if (live[m] <= 0) continue;
      d.dispatches.push_back({static_cast<int>(m), std::min(live[m], batch_[m]), 0});
      last_ = m;
      break;
    }
    return d;
  }

 private:
  // Each model's batch on the whole GPU, with the cycle, for its estimated rate; with the default
  // cycle, the cycle too (see the rules above).
  void replan() {
    if (o_.cycle_ms > 0) {
      batch_ = batches_for(cycle_s_);
      return;
    }
    const double half_min_slo = cycle_or_default(0, ctx_->models);
    double max_slo = 0;
    for (const ModelSpec& m : ctx_->models) max_slo = std::max(max_slo, m.slo_s);
    // Candidates: min SLO / 2, then geometrically up to the largest SLO.
    std::vector<double> candidates{half_min_slo};
    for (int k = 1; k <= 31 && max_slo > half_min_slo; ++k) candidates.push_back(half_min_slo * std::pow(max_slo / half_min_slo, k / 31.0));
    bool found = false;
    std::tuple<int, double> best{-1, 0};  // (models whose SLO the cycle meets, throughput when unstable)
    const std::vector<double>& rate = rates_.rates();
    for (double c : candidates) {
      std::vector<int64_t> b = batches_for(c);
      // The round a cycle's arrivals take: each model's run of what arrived in c.
      double round = 0, full_round = 0;
      bool keeps_up = true;
      for (std::size_t i = 0; i < b.size(); ++i) {
        const auto need = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(rate[i] * c - 1e-9)));
        keeps_up = keeps_up && b[i] >= need;
        round += run_time(i, std::min(b[i], need));
        full_round += run_time(i, b[i]);
      }
      if (keeps_up && round <= kHeadroom * c) {
        // Stable: the shortest cycle that meets the most SLOs.
        int meets = 0;
        for (std::size_t i = 0; i < b.size(); ++i) meets += c + run_time(i, b[i]) <= ctx_->models[i].slo_s * (1 + 1e-9);
        if (!found || meets > std::get<0>(best)) {
          best = {meets, 0};
          cycle_s_ = c;
          batch_ = std::move(b);
        }
        found = true;
      } else if (!found) {
        // No stable cycle yet: keep the one that serves the most requests per second.
        double served = 0;
        for (std::size_t i = 0; i < b.size(); ++i) served += std::min(rate[i], static_cast<double>(b[i]) / full_round);
        if (served > std::get<1>(best)) {
          best = {-1, served};
          cycle_s_ = c;
          batch_ = std::move(b);
        }
      }
    }
  }

  // The batch optimizer's batches for a cycle, raised where needed to carry a cycle's arrivals (a
  // model whose SLO the cycle cannot meet still has to keep up, or every request behind it is late).
  std::vector<int64_t> batches_for(double cycle_s) const {
    std::vector<int64_t> b = fallback_batches(*ctx_, rates_.rates(), cycle_s, {ctx_->oracle->sm_count()}, o_.max_batch);
    if (o_.cycle_ms > 0) return b;
    for (std::size_t i = 0; i < b.size(); ++i) {
      const auto need = static_cast<int64_t>(std::ceil(rates_.rates()[i] * cycle_s - 1e-9));
      b[i] = std::min(o_.max_batch, std::max(b[i], need));
    }
    return b;
  }

  double run_time(std::size_t i, int64_t b) const {
    return ctx_->oracle->latency_s(static_cast<int>(i), b, ctx_->oracle->sm_count());
  }

  const PolicyContext* ctx_ = nullptr;
  Options o_;
  double cycle_s_ = 0;
  RateEstimator rates_;
  std::vector<int64_t> batch_;
  std::size_t last_ = 0;  // the model that ran last
};

}  // namespace

std::unique_ptr<Policy> make_temporal_policy() { return std::make_unique<TemporalPolicy>(); }

}  // namespace dstack::sched
