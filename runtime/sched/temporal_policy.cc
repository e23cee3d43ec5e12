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
//  - rates start at the configured ones and are re-estimated online (EWMA over epochs, as for
//    D-STACK: RateEstimator in policy_support.h); the batches are recomputed at every epoch (the
//    layout never changes).
//  - requests are run even when late, unless drop_expired (then requests already past their
//    deadline are dropped, counted as rejected).
// Options (ctx.options): cycle_ms (0 = min SLO / 2), max_batch (64), epoch_s (0.5), ewma (0.5),
// drop_expired (false).
#include <algorithm>

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
  Options o;
  o.cycle_ms = j.value("cycle_ms", o.cycle_ms);
  o.max_batch = j.value("max_batch", o.max_batch);
  o.rates = read_rate_options(j);
  o.drop_expired = j.value("drop_expired", o.drop_expired);
  return o;
}

class TemporalPolicy final : public Policy {
 public:
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
  // Each model's batch on the whole GPU, with the cycle, for its estimated rate.
  void replan() {
    batch_ = fallback_batches(*ctx_, rates_.rates(), cycle_s_, {ctx_->oracle->sm_count()}, o_.max_batch);
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
