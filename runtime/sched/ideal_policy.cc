// The ideal scheduler (../shared/PAPER.md, "Ideal scheduler"): kernel-level dispatch in which every
// kernel gets exactly the SMs it can use (U_k) and kernels of different models pack concurrently —
// the bound D-STACK is measured against.
//
// Rules:
//  - the layout is the whole GPU ({sm_count}), one partition that every model dispatches to, with
//    DispatchMode::per_kernel: each kernel is launched on its own, so kernels of different models
//    interleave on the SMs. On the simulator the packing itself is done by its block scheduler: a
//    kernel occupies only the SMs its blocks fill (at most U_k) and the rest stay free for the
//    other models' kernels in flight; the policy only keeps every model's work in flight;
//  - each model's batch b_i comes from the batch optimizer on the whole GPU (sms = {sm_count}),
//    without a cycle (2·T_i(b_i, all) <= SLO_i, b_i >= rate_i·T_i), for its SLO and rate; when no
//    batch keeps up with the rate, the cheapest batch under the latency bound alone; when not even
//    batch 1 meets the SLO, batch 1;
//  - greedy: a free model with requests dispatches at once, up to b_i of its oldest requests;
//  - rates start at the configured ones and are re-estimated online (EWMA over epochs, as for
//    D-STACK: RateEstimator in policy_support.h); the batches are recomputed each epoch;
//  - like D-STACK (so that the bound is comparable), requests already past their deadline, and
//    those a batch started now would finish late (predicted on the whole GPU, alone), are dropped
//    (counted as rejected) rather than run late.
// Options (ctx.options): max_batch (64), epoch_s (0.5), ewma (0.5), drop_expired (true).
#include <algorithm>

#include "runtime/sched/policy_support.h"

namespace dstack::sched {
namespace {

struct Options {
  int64_t max_batch = 64;
  RateOptions rates;
  bool drop_expired = true;
};

Options read_options(const nlohmann::json& j) {
  OptionReader r(j, "ideal");
  Options o;
  o.max_batch = r.integer("max_batch", o.max_batch, 1, kMaxBatchOption);
  o.rates = read_rate_options(r);
  o.drop_expired = r.flag("drop_expired", o.drop_expired);
  r.done();
  return o;
}

class IdealPolicy final : public Policy {
 public:
  void check_options(const nlohmann::json& options) const override { read_options(options); }
  PartitionLayout start(const PolicyContext& ctx) override {
    ctx_ = &ctx;
    o_ = read_options(ctx.options);
    rates_.start(ctx.models, o_.rates);
    replan();
    return {{ctx.oracle->sm_count()}};
  }

  void on_arrival(int model, double /*t*/) override { rates_.count(model); }

  Decision decide(const View& v) override {
    Decision d;
    if (rates_.advance(v.now_s)) replan();
    d.wake_at_s = rates_.epoch_end();
    if (v.layout_pending) return d;
    std::vector<int64_t> live = live_queues(v, o_.drop_expired, d);
    if (o_.drop_expired) {
      const int all = ctx_->oracle->sm_count();
      for (std::size_t m = 0; m < live.size(); ++m)
        if (live[m] > 0 && !v.models[m].in_flight) {
          const int64_t batch = std::min(live[m], batch_[m]);
          drop_late(v, static_cast<int>(m), ctx_->oracle->latency_s(static_cast<int>(m), batch, all), live, d);
        }
    }
    dispatch_greedy(v, live, batch_, d, {}, DispatchMode::per_kernel);
    return d;
  }

 private:
  // Each model's batch on the whole GPU, without a cycle, for its estimated rate.
  void replan() {
    batch_ = fallback_batches(*ctx_, rates_.rates(), std::nullopt, {ctx_->oracle->sm_count()}, o_.max_batch);
  }

  const PolicyContext* ctx_ = nullptr;
  Options o_;
  RateEstimator rates_;
  std::vector<int64_t> batch_;
};

}  // namespace

std::unique_ptr<Policy> make_ideal_policy() { return std::make_unique<IdealPolicy>(); }

}  // namespace dstack::sched
