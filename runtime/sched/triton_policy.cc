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
#include <cmath>
#include <optional>

#include "runtime/sched/policy.h"

namespace dstack::sched {
namespace {

struct Options {
  int64_t max_batch = 32;
  double max_queue_delay_ms = 2;
  bool drop_expired = false;
};

Options read_options(const nlohmann::json& j) {
  Options o;
  o.max_batch = std::max<int64_t>(1, j.value("max_batch", o.max_batch));
  o.max_queue_delay_ms = std::max(0.0, j.value("max_queue_delay_ms", o.max_queue_delay_ms));
  o.drop_expired = j.value("drop_expired", o.drop_expired);
  return o;
}

// Slack for comparing the clock with a wake-up time computed from it.
constexpr double kEps = 1e-9;

class TritonPolicy final : public Policy {
 public:
  PartitionLayout start(const PolicyContext& ctx) override {
    o_ = read_options(ctx.options);
    return {{ctx.oracle->sm_count()}};
  }

  Decision decide(const View& v) override {
    Decision d;
    if (v.layout_pending) return d;
    const double delay = o_.max_queue_delay_ms * 1e-3;
    for (std::size_t m = 0; m < v.models.size(); ++m) {
      const QueueState& q = v.models[m];
      int64_t queued = q.queued;
      if (o_.drop_expired && q.expired > 0) {
        d.drops.emplace_back(static_cast<int>(m), q.expired);
        queued -= q.expired;
      }
      if (queued <= 0 || q.in_flight) continue;
      // With drops the oldest live request is younger than q.oldest_arrival_s: waiting on the
      // older time only dispatches sooner, never later.
      const double due = q.oldest_arrival_s + delay;
      if (queued >= o_.max_batch || v.now_s + kEps >= due) {
        d.dispatches.push_back({static_cast<int>(m), std::min(queued, o_.max_batch), 0});
      } else {
        d.wake_at_s = std::min(d.wake_at_s.value_or(INFINITY), due);
      }
    }
    return d;
  }

 private:
  Options o_;
};

}  // namespace

std::unique_ptr<Policy> make_triton_policy() { return std::make_unique<TritonPolicy>(); }

}  // namespace dstack::sched
