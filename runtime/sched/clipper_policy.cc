// Clipper's adaptive batching (../shared/PAPER.md, "Baselines"): AIMD batch size per model.
//
// Rules:
//  - the layout is the whole GPU ({sm_count}); every model dispatches to partition 0, so the models
//    run concurrently over all SMs with no SM limits;
//  - each model has a batch cap, starting at start_batch (1); after each of its batches completes
//    the cap grows by `increase` (+1) when the batch met its SLO and becomes
//    max(1, floor(cap·decrease)) (×0.9) when it missed; it never exceeds max_batch;
//  - a free model with requests dispatches at once, taking up to its cap of its oldest requests
//    (no delayed batching);
//  - "met its SLO": by default (signal "batch_latency", as in Clipper's paper, which measures the
//    latency of processing a batch) a batch missed when its own execution (finished − started)
//    exceeded the SLO; with signal "requests" (our variant) it missed when any of its requests
//    finished after its deadline (Completion.slo_misses > 0: queueing included), which under
//    overload shrinks every cap to 1 and starved one of two models in our runs;
//  - requests are never dropped by default, so late requests still run.
// Options (ctx.options): start_batch (1), increase (1), decrease (0.9), max_batch (64),
// signal ("batch_latency" | "requests"), drop_expired (false: when true, requests already past
// their deadline are dropped, counted as rejected).
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "runtime/sched/policy_support.h"

namespace dstack::sched {
namespace {

struct Options {
  int64_t start_batch = 1;
  int64_t increase = 1;
  double decrease = 0.9;
  int64_t max_batch = 64;
  bool batch_latency_signal = false;
  bool drop_expired = false;
};

Options read_options(const nlohmann::json& j) {
  OptionReader r(j, "clipper");
  Options o;
  o.max_batch = r.integer("max_batch", o.max_batch, 1, kMaxBatchOption);
  o.start_batch = r.integer("start_batch", o.start_batch, 1, o.max_batch);
  o.increase = r.integer("increase", o.increase, 0, o.max_batch);
  o.decrease = r.number("decrease", o.decrease, 0.0, 1.0);
  o.batch_latency_signal = r.choice("signal", "batch_latency", {"requests", "batch_latency"}) == "batch_latency";
  o.drop_expired = r.flag("drop_expired", o.drop_expired);
  r.done();
  return o;
}

// One AIMD step of the cap.
int64_t aimd_step(int64_t cap, bool missed, const Options& o) {
  if (missed) return std::max<int64_t>(1, static_cast<int64_t>(std::floor(static_cast<double>(cap) * o.decrease + 1e-9)));
  return std::min(o.max_batch, cap + o.increase);
}

class ClipperPolicy final : public Policy {
 public:
  void check_options(const nlohmann::json& options) const override { read_options(options); }
  PartitionLayout start(const PolicyContext& ctx) override {
    ctx_ = &ctx;
    o_ = read_options(ctx.options);
    cap_.assign(ctx.models.size(), o_.start_batch);
    return {{ctx.oracle->sm_count()}};
  }

  void on_completion(const Completion& c) override {
    const auto m = static_cast<std::size_t>(c.model);
    const bool missed = o_.batch_latency_signal ? c.finished_s - c.started_s > ctx_->models[m].slo_s
                                                : c.slo_misses > 0;
    cap_[m] = aimd_step(cap_[m], missed, o_);
  }

  Decision decide(const View& v) override {
    Decision d;
    if (v.layout_pending) return d;
    const std::vector<int64_t> live = live_queues(v, o_.drop_expired, d);
    dispatch_greedy(v, live, cap_, d);
    return d;
  }

 private:
  const PolicyContext* ctx_ = nullptr;
  Options o_;
  std::vector<int64_t> cap_;
};

}  // namespace

std::unique_ptr<Policy> make_clipper_policy() { return std::make_unique<ClipperPolicy>(); }

}  // namespace dstack::sched
