#pragma once
// The pieces several policies share, written once: the online rate estimate, the batch optimizer's
// batch with the fallbacks the policies agree on, dropping expired requests, and the per-model
// dispatch rules (greedy; full or timed out). Each policy's header comment still states its rules;
// this file only holds the means, so that a fix to one of them reaches every policy. CPU only.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "runtime/analysis/batch_optimizer.h"
#include "runtime/sched/options.h"
#include "runtime/sched/policy.h"

namespace dstack::sched {

// --- Rates ------------------------------------------------------------------------------------------

// Options epoch_s (0.5) and ewma (0.5) of the policies that estimate rates online.
struct RateOptions {
  double epoch_s = 0.5;  // length of an estimation epoch
  double ewma = 0.5;     // weight of the newest epoch
};
RateOptions read_rate_options(OptionReader& r);

// Per-model arrival rates: the configured ones at first, then at each epoch's end
// rate = ewma·(arrivals in the epoch / its length) + (1 − ewma)·rate. The configured rate is only
// a hint (the real arrivals may differ or change), hence the estimate.
class RateEstimator {
 public:
  void start(const std::vector<ModelSpec>& models, RateOptions options);
  void count(int model);  // from Policy::on_arrival
  // Call at every decision. The first call opens the first epoch; once `now` reaches the epoch's
  // end, its arrivals are folded into the rates and the next epoch opens at `now`. True when the
  // rates were updated (the moment to re-plan).
  bool advance(double now);
  // When the open epoch ends: a policy asks to be woken then, so that rates move without arrivals.
  double epoch_end() const { return epoch_end_; }
  const std::vector<double>& rates() const { return rate_; }

 private:
  RateOptions o_;
  std::vector<double> rate_;
  std::vector<int64_t> counts_;
  double epoch_end_ = 0;  // 0: no epoch opened yet
};

// Whether some rate moved from the one planned for by more than change·max(planned, 1 rps) (the
// floor keeps near-idle models from re-planning on noise).
bool rates_moved(const std::vector<double>& rates, const std::vector<double>& planned, double change);

// --- Batches ----------------------------------------------------------------------------------------

// min_i SLO_i / 2: the longest cycle that leaves every model a request's wait plus a run of up to
// the same time within its SLO.
double half_min_slo(const std::vector<ModelSpec>& models);
// A cycle option in milliseconds, in seconds; half_min_slo() when it is not positive.
double cycle_or_default(double cycle_ms, const std::vector<ModelSpec>& models);

// The partition sizes smaller than the whole GPU (those a split allows), smallest first.
std::vector<int> split_sizes(const Oracle& oracle);

// The optimizer's problem for `model`: its SLO, `rate_rps`, an optional cycle, candidate `sms`.
analysis::BatchProblem batch_problem(const ModelSpec& model, double rate_rps, std::optional<double> cycle_s,
                                     std::vector<int> sms, int64_t max_batch);
// The optimizer's choice when the SLO and the rate can both be met; nullopt otherwise.
std::optional<analysis::BatchChoice> feasible_batch(const Oracle& oracle, int model,
                                                    const analysis::BatchProblem& problem);
// The optimizer's choice, with the fallbacks the policies share: when no batch keeps up with the
// rate, the cheapest batch under the latency bound alone (the model is overloaded: its excess
// requests expire); when not even batch 1 meets the SLO, batch 1 on the largest candidate size
// (its requests will be late).
analysis::BatchChoice batch_or_fallback(const Oracle& oracle, int model, analysis::BatchProblem problem);
// batch_or_fallback()'s batch of every model for its rate in `rates_rps`, over `sms`.
std::vector<int64_t> fallback_batches(const PolicyContext& ctx, const std::vector<double>& rates_rps,
                                      std::optional<double> cycle_s, const std::vector<int>& sms, int64_t max_batch);

// --- Queues -----------------------------------------------------------------------------------------

// Drops n more of model's oldest requests, merged with a drop already decided for it.
void add_drop(Decision& d, int model, int64_t n);
// Each model's live queue: when drop_expired, its expired requests are dropped (into d) and not
// counted; otherwise every queued request.
std::vector<int64_t> live_queues(const View& v, bool drop_expired, Decision& d);
// Drops model m's queued requests (beyond its expired ones, already dropped) that would miss their
// deadline if a run taking run_s started now: late work only delays the requests behind it.
// queued[m] shrinks by as many.
void drop_late(const View& v, int m, double run_s, std::vector<int64_t>& queued, Decision& d);
// Whether a run of any model is in flight (time-shared policies run one at a time).
bool any_in_flight(const View& v);

// --- Dispatch rules ---------------------------------------------------------------------------------

// Greedy: every free model with live requests dispatches at once, up to batch[m] of them, to
// partition[m] (to partition 0 when `partition` is empty), in model order.
void dispatch_greedy(const View& v, const std::vector<int64_t>& live, const std::vector<int64_t>& batch, Decision& d,
                     const std::vector<int>& partition = {}, DispatchMode mode = DispatchMode::graph);
// Delayed batching on partition 0: a free model with live requests dispatches when it holds a full
// `batch` or its oldest request has waited wait_s[m] (then it takes what is queued, up to `batch`);
// otherwise the decision asks to be woken when that wait runs out. With drops, the oldest live
// request is younger than QueueState::oldest_arrival_s: timing the wait from the older arrival
// only dispatches sooner, never later.
void dispatch_full_or_due(const View& v, const std::vector<int64_t>& live, int64_t batch,
                          const std::vector<double>& wait_s, Decision& d);

}  // namespace dstack::sched
