// NVIDIA Triton's dynamic batcher (../shared/PAPER.md, "Baselines"), one instance per model.
//
// Rules:
//  - the layout is the whole GPU ({sm_count}); every model dispatches to partition 0, so the
//    models run concurrently on streams over all SMs with no SM limits (the simulator shares the
//    SMs between the runs as the hardware does);
//  - one instance per model: a model's next batch waits for its previous one (the loop's rule);
//  - a free model dispatches when its queue holds max_batch requests (a full batch, at once) or its
//    oldest request has waited max_queue_delay (then it takes what is queued, up to max_batch);
//    otherwise the policy asks to be woken when the oldest request's delay runs out;
//  - our interpretation: Triton's preferred batch sizes are not modelled (the preferred size is
//    max_batch), and requests are never dropped by default (Triton's default queue policy), so
//    late requests still run.
// Options (ctx.options): max_batch (32), max_queue_delay_ms (2), drop_expired (false: when true,
// requests already past their deadline are dropped, counted as rejected).
#include <algorithm>

#include "runtime/sched/policy_support.h"

namespace dstack::sched {
namespace {

struct Options {
  int64_t max_batch = 32;
  double max_queue_delay_ms = 2;
  bool drop_expired = false;
};

Options read_options(const nlohmann::json& j) {
  OptionReader r(j, "triton");
  Options o;
  o.max_batch = r.integer("max_batch", o.max_batch, 1, kMaxBatchOption);
  o.max_queue_delay_ms = r.number("max_queue_delay_ms", o.max_queue_delay_ms, 0.0, kMaxCycleMs);
  o.drop_expired = r.flag("drop_expired", o.drop_expired);
  r.done();
  return o;
}

class TritonPolicy final : public Policy {
 public:
  void check_options(const nlohmann::json& options) const override { read_options(options); }
  PartitionLayout start(const PolicyContext& ctx) override {
    o_ = read_options(ctx.options);
    delay_s_.assign(ctx.models.size(), o_.max_queue_delay_ms * 1e-3);
    return {{ctx.oracle->sm_count()}};
  }

  Decision decide(const View& v) override {
    Decision d;
    if (v.layout_pending) return d;
    const std::vector<int64_t> live = live_queues(v, o_.drop_expired, d);
    dispatch_full_or_due(v, live, o_.max_batch, delay_s_, d);
    return d;
  }

 private:
  Options o_;
  std::vector<double> delay_s_;  // per model: max_queue_delay, the same for all
};

}  // namespace

std::unique_ptr<Policy> make_triton_policy() { return std::make_unique<TritonPolicy>(); }

}  // namespace dstack::sched
