// Temporal multiplexing (../shared/PAPER.md, "Baselines"): one model at a time on the whole GPU.
//
// Rules:
//  - the layout is the whole GPU ({sm_count}) and at most one run is in flight overall;
//  - when the GPU is free, the next model in round-robin order (model index order, starting after
//    the model that ran last) that has requests runs a batch of up to b_i of its oldest requests;
//  - b_i comes from the batch optimizer on the whole GPU (sms = {sm_count}) with a cycle C: our
//    interpretation of "batch by SLO" is that a request waits at most one round-robin period C and
//    then runs, so C + T_i(b_i, all) <= SLO_i and b_i >= rate_i·C (a run absorbs a period's
//    arrivals). C defaults to min_i SLO_i / 2, the cycle D-STACK uses; the real round is the sum
//    of the runs that happen, which stays within C while the load is feasible. When no batch keeps
//    up with the rate, the cheapest batch under the latency bound alone is used (the model is
//    overloaded); when not even batch 1 meets the SLO, batch 1.
//  - rates start at the configured ones and are re-estimated online (EWMA over epochs, like
//    dstack_policy.cc); the batches are recomputed at every epoch (the layout never changes).
//  - requests are run even when late, unless drop_expired (then requests already past their
//    deadline are dropped, counted as rejected).
// Options (ctx.options): cycle_ms (0 = min SLO / 2), max_batch (64), epoch_s (0.5), ewma (0.5),
// drop_expired (false).
#include <algorithm>
#include <cmath>
#include <optional>

#include "runtime/sched/policy.h"

namespace dstack::sched {
namespace {

struct Options {
  double cycle_ms = 0;
  int64_t max_batch = 64;
  double epoch_s = 0.5;
  double ewma = 0.5;
  bool drop_expired = false;
};

Options read_options(const nlohmann::json& j) {
  Options o;
  o.cycle_ms = j.value("cycle_ms", o.cycle_ms);
  o.max_batch = j.value("max_batch", o.max_batch);
  o.epoch_s = j.value("epoch_s", o.epoch_s);
  o.ewma = j.value("ewma", o.ewma);
  o.drop_expired = j.value("drop_expired", o.drop_expired);
  return o;
}

class TemporalPolicy final : public Policy {
 public:
  PartitionLayout start(const PolicyContext& ctx) override {
    ctx_ = &ctx;
    o_ = read_options(ctx.options);
    const std::size_t n = ctx.models.size();
    cycle_s_ = o_.cycle_ms * 1e-3;
    if (!(cycle_s_ > 0)) {
      cycle_s_ = INFINITY;
      for (const auto& m : ctx.models) cycle_s_ = std::min(cycle_s_, m.slo_s / 2);
    }
    rate_.resize(n);
    for (std::size_t i = 0; i < n; ++i) rate_[i] = ctx.models[i].rate_rps;
    counts_.assign(n, 0);
    last_ = n - 1;  // so that model 0 goes first
    replan();
    return {{ctx.oracle->sm_count()}};
  }

  void on_arrival(int model, double /*t*/) override { ++counts_[static_cast<std::size_t>(model)]; }

  Decision decide(const View& v) override {
    Decision d;
    if (epoch_end_ == 0) epoch_end_ = v.now_s + o_.epoch_s;
    if (v.now_s >= epoch_end_) {
      const double span = v.now_s - (epoch_end_ - o_.epoch_s);
      for (std::size_t i = 0; i < rate_.size(); ++i) {
        rate_[i] = o_.ewma * static_cast<double>(counts_[i]) / std::max(span, 1e-9) + (1 - o_.ewma) * rate_[i];
        counts_[i] = 0;
      }
      replan();
      epoch_end_ = v.now_s + o_.epoch_s;
    }
    d.wake_at_s = epoch_end_;
    const std::size_t n = v.models.size();
    std::vector<int64_t> queued(n);
    for (std::size_t m = 0; m < n; ++m) {
      queued[m] = v.models[m].queued;
      if (o_.drop_expired && v.models[m].expired > 0) {
        d.drops.emplace_back(static_cast<int>(m), v.models[m].expired);
        queued[m] -= v.models[m].expired;
      }
    }
    if (v.layout_pending) return d;
    for (std::size_t m = 0; m < n; ++m)
      if (v.models[m].in_flight) return d;  // one run at a time on the GPU
    for (std::size_t k = 1; k <= n; ++k) {
      const std::size_t m = (last_ + k) % n;
      if (queued[m] <= 0) continue;
      d.dispatches.push_back({static_cast<int>(m), std::min(queued[m], batch_[m]), 0});
      last_ = m;
      break;
    }
    return d;
  }

 private:
  void replan() {
    const std::size_t n = rate_.size();
    batch_.resize(n);
    for (std::size_t i = 0; i < n; ++i) batch_[i] = choose(i, rate_[i]);
  }

  int64_t choose(std::size_t i, double rate) const {
    analysis::BatchProblem p;
    p.slo_s = ctx_->models[i].slo_s;
    p.rate_rps = rate;
    p.cycle_s = cycle_s_;
    p.max_batch = o_.max_batch;
    p.sms = {ctx_->oracle->sm_count()};
    try {
      return ctx_->oracle->choose_batch(static_cast<int>(i), p).batch;
    } catch (const analysis::InfeasibleBatch&) {
      p.rate_rps = 0;
      try {
        return ctx_->oracle->choose_batch(static_cast<int>(i), p).batch;
      } catch (const analysis::InfeasibleBatch&) {
        return 1;
      }
    }
  }

  const PolicyContext* ctx_ = nullptr;
  Options o_;
  double cycle_s_ = 0;
  std::vector<double> rate_;
  std::vector<int64_t> counts_;
  std::vector<int64_t> batch_;
  double epoch_end_ = 0;
  std::size_t last_ = 0;  // the model that ran last
};

}  // namespace

std::unique_ptr<Policy> make_temporal_policy() { return std::make_unique<TemporalPolicy>(); }

}  // namespace dstack::sched
