// Plain MPS-style sharing (../shared/PAPER.md, "Baselines"): all models concurrent, fixed batch,
// no limits.
//
// Rules:
//  - the layout is the whole GPU ({sm_count}); every model dispatches to partition 0, so the models
//    run concurrently over all SMs with no SM limits (what MPS without an active-thread percentage
//    gives);
//  - every model uses the same fixed batch (option batch);
//  - a free model dispatches when its queue holds a full batch, or when its oldest request has
//    waited wait_fraction·SLO (our interpretation: a timeout of a quarter of the SLO, so that a
//    model whose rate never fills the batch is still served; then it takes what is queued, up to
//    the batch); otherwise the policy asks to be woken when the oldest request's wait runs out;
//  - requests are never dropped by default, so late requests still run.
// Options (ctx.options): batch (8), wait_fraction (0.25), drop_expired (false: when true, requests
// already past their deadline are dropped, counted as rejected).
#include <algorithm>

#include "runtime/sched/policy_support.h"

namespace dstack::sched {
namespace {

struct Options {
  int64_t batch = 8;
  double wait_fraction = 0.25;
  bool drop_expired = false;
};

Options read_options(const nlohmann::json& j) {
  OptionReader r(j, "mps");
  Options o;
  o.batch = r.integer("batch", o.batch, 1, kMaxBatchOption);
  o.wait_fraction = r.number("wait_fraction", o.wait_fraction, 0.0, 1.0);
  o.drop_expired = r.flag("drop_expired", o.drop_expired);
  r.done();
  return o;
}

class MpsPolicy final : public Policy {
 public:
  void check_options(const nlohmann::json& options) const override { read_options(options); }
  PartitionLayout start(const PolicyContext& ctx) override {
    o_ = read_options(ctx.options);
    wait_s_.clear();
    for (const auto& m : ctx.models) wait_s_.push_back(o_.wait_fraction * m.slo_s);
    return {{ctx.oracle->sm_count()}};
  }

  Decision decide(const View& v) override {
    Decision d;
    if (v.layout_pending) return d;
    const std::vector<int64_t> live = live_queues(v, o_.drop_expired, d);
    dispatch_full_or_due(v, live, o_.batch, wait_s_, d);
    return d;
  }

 private:
  Options o_;
  std::vector<double> wait_s_;  // per model: wait_fraction·SLO
};

}  // namespace

std::unique_ptr<Policy> make_mps_policy() { return std::make_unique<MpsPolicy>(); }

}  // namespace dstack::sched
