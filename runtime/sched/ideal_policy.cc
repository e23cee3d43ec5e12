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
//  - rates start at the configured ones and are re-estimated online (EWMA over epochs, like
//    dstack_policy.cc); the batches are recomputed each epoch;
//  - like D-STACK (so that the bound is comparable), requests already past their deadline are
//    dropped (counted as rejected) rather than run late.
// Options (ctx.options): max_batch (64), epoch_s (0.5), ewma (0.5), drop_expired (true).
#include <algorithm>
#include <cmath>

#include "runtime/sched/policy.h"

namespace dstack::sched {
namespace {

struct Options {
  int64_t max_batch = 64;
  double epoch_s = 0.5;
  double ewma = 0.5;
  bool drop_expired = true;
};

Options read_options(const nlohmann::json& j) {
  Options o;
  o.max_batch = std::max<int64_t>(1, j.value("max_batch", o.max_batch));
  o.epoch_s = j.value("epoch_s", o.epoch_s);
  o.ewma = j.value("ewma", o.ewma);
  o.drop_expired = j.value("drop_expired", o.drop_expired);
  return o;
}

class IdealPolicy final : public Policy {
 public:
  PartitionLayout start(const PolicyContext& ctx) override {
    ctx_ = &ctx;
    o_ = read_options(ctx.options);
    const std::size_t n = ctx.models.size();
    rate_.resize(n);
    for (std::size_t i = 0; i < n; ++i) rate_[i] = ctx.models[i].rate_rps;
    counts_.assign(n, 0);
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
    if (v.layout_pending) return d;
    for (std::size_t m = 0; m < v.models.size(); ++m) {
      const QueueState& q = v.models[m];
      int64_t queued = q.queued;
      if (o_.drop_expired && q.expired > 0) {
        d.drops.emplace_back(static_cast<int>(m), q.expired);
        queued -= q.expired;
      }
      if (queued <= 0 || q.in_flight) continue;
      d.dispatches.push_back({static_cast<int>(m), std::min(queued, batch_[m]), 0, DispatchMode::per_kernel});
    }
    return d;
  }

 private:
  void replan() {
    batch_.resize(rate_.size());
    for (std::size_t i = 0; i < rate_.size(); ++i) batch_[i] = choose(i, rate_[i]);
  }

  int64_t choose(std::size_t i, double rate) const {
    analysis::BatchProblem p;
    p.slo_s = ctx_->models[i].slo_s;
    p.rate_rps = rate;
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
  std::vector<double> rate_;
  std::vector<int64_t> counts_;
  std::vector<int64_t> batch_;
  double epoch_end_ = 0;
};

}  // namespace

std::unique_ptr<Policy> make_ideal_policy() { return std::make_unique<IdealPolicy>(); }

}  // namespace dstack::sched
