// GSLICE (../shared/PAPER.md, "What GSLICE did"): static knee partitions with GSLICE's share rule
// and adaptive batching, no time multiplexing.
//
// Rules:
//  - each model's knee is the oracle's knee at a reference batch: option ref_batch, or by default
//    the batch optimizer's batch for the model alone (its SLO and configured rate, over the split
//    sizes, no cycle; the cheapest batch under the latency bound when the rate cannot be kept up
//    with; 1 when even that fails);
//  - shares out of the split SMs (120 on an H100, in whole 8-SM groups; the 12 SMs a split leaves
//    over stay idle, as with any partitioned policy) by GSLICE's rule, gslice_shares() in
//    runtime/sched/gslice_rules.h (which documents the rounding and the two choices that are ours:
//    with no high-priority model the leftover goes to every model in proportion to its knee; each
//    model gets at least one group). High priority is ModelSpec::high_priority;
//  - one partition per model, in model order, fixed for the whole run: a model runs only in its own
//    partition, one batch at a time; a free model with requests dispatches at once, up to its
//    batch cap of its oldest requests;
//  - adaptive batching per model, cap <= max_batch (64): after each of its batches completes,
//    gslice_adapt_batch() with L = the measured batch latency (finished − started, the execution
//    alone) and S = target_fraction·SLO (0.5: our choice, so that a request that waits for the batch
//    in progress and then runs in the next stays within the SLO, the optimizer's rule without a
//    cycle). The cap starts at the reference batch. GSLICE's "ask for more GPU" at batch 1 is not
//    modelled: the partitions are static;
//  - a single model, or a device that cannot be split, runs on the whole GPU; more models than split
//    groups cannot be partitioned: start() throws std::invalid_argument saying so;
//  - requests are never dropped by default, so late requests still run.
// Options (ctx.options): ref_batch (0 = the optimizer's batch), max_batch (64, at most 64),
// target_fraction (0.5), drop_expired (false: when true, requests already past their deadline are
// dropped, counted as rejected).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "runtime/sched/gslice_rules.h"
#include "runtime/sched/policy_support.h"

namespace dstack::sched {
namespace {

// `groups` split among `members` in proportion to `weight`, each at least `min_each`: floor of the
// proportional share, leftover groups to the largest remainders (ties to the lower index), then a
// member below the minimum is raised by taking from the largest share (ties to the lower index).
void share_out(const std::vector<std::size_t>& members, const std::vector<double>& weight, int groups, int min_each,
               std::vector<int>& out) {
  if (members.empty() || groups <= 0) return;
  double total = 0;
  for (std::size_t i : members) total += weight[i];
  std::vector<int> got(members.size(), 0);
  std::vector<double> rem(members.size(), 0);
  int given = 0;
  for (std::size_t k = 0; k < members.size(); ++k) {
    const double exact = total > 0 ? groups * weight[members[k]] / total
                                   : static_cast<double>(groups) / static_cast<double>(members.size());
    got[k] = static_cast<int>(std::floor(exact + 1e-9));
    rem[k] = exact - got[k];
    given += got[k];
  }
  while (given < groups) {
    std::size_t best = 0;
    for (std::size_t k = 1; k < members.size(); ++k)
      if (rem[k] > rem[best] + 1e-12) best = k;
    ++got[best];
    rem[best] = -1;
    ++given;
  }
  for (std::size_t k = 0; k < members.size(); ++k)
    while (got[k] < min_each) {
      std::size_t big = 0;
      for (std::size_t j = 1; j < members.size(); ++j)
        if (got[j] > got[big]) big = j;
      if (got[big] <= min_each) break;  // nothing to take from (cannot happen with enough groups)
      --got[big];
      ++got[k];
    }
  for (std::size_t k = 0; k < members.size(); ++k) out[members[k]] += got[k];
}

}  // namespace

std::vector<int> gslice_shares(const std::vector<int>& knees, const std::vector<bool>& high, int capacity, int group) {
  const std::size_t n = knees.size();
  if (high.size() != n) throw std::invalid_argument("gslice_shares: one priority flag per knee");
  if (group <= 0) throw std::invalid_argument("gslice_shares: the group must be positive");
  const int groups = capacity / group;
  if (groups < static_cast<int>(n))
    throw std::invalid_argument(
        fmt::format("gslice: {} models need at least one {}-SM group each; {} SMs hold {}", n, group, capacity, groups));
  std::vector<int> kg(n);  // knees in whole groups, 1..groups
  std::vector<double> weight(n);
  int sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    kg[i] = std::clamp((knees[i] + group - 1) / group, 1, groups);
    weight[i] = kg[i];
    sum += kg[i];
  }
  std::vector<std::size_t> hp, lp, all(n);
  std::iota(all.begin(), all.end(), 0);
  for (std::size_t i = 0; i < n; ++i) (high[i] ? hp : lp).push_back(i);
  std::vector<int> out(n, 0);
  if (sum <= groups) {
    out = kg;
    share_out(hp.empty() ? all : hp, weight, groups - sum, 0, out);
  } else {
    int hp_sum = 0;
    for (std::size_t i : hp) hp_sum += kg[i];
    if (!lp.empty() && groups - hp_sum >= static_cast<int>(lp.size())) {
      for (std::size_t i : hp) out[i] = kg[i];
      share_out(lp, weight, groups - hp_sum, 1, out);
    } else {
      share_out(all, weight, groups, 1, out);
    }
  }
  for (int& s : out) s *= group;
  return out;
}

int64_t gslice_adapt_batch(int64_t cap, int64_t batch, double latency_s, double target_s, int64_t max_cap) {
  max_cap = std::max<int64_t>(1, max_cap);
  if (batch < 1 || !(latency_s > 0)) return std::clamp<int64_t>(cap, 1, max_cap);
  const double per_request = latency_s / static_cast<double>(batch);
  if (latency_s > target_s) {
    const auto shrink = static_cast<int64_t>(std::floor((latency_s - target_s) / per_request + 1e-9));
    return std::clamp<int64_t>(std::min(cap, batch) - shrink, 1, max_cap);
  }
  if (target_s - latency_s >= 0.1 * target_s) {
    const auto grow = static_cast<int64_t>(std::floor((target_s - latency_s) / per_request + 1e-9));
    return std::clamp<int64_t>(cap + grow, 1, max_cap);
  }
  return std::clamp<int64_t>(cap, 1, max_cap);
}

namespace {

struct Options {
  int64_t ref_batch = 0;
  int64_t max_batch = 64;
  double target_fraction = 0.5;
  bool drop_expired = false;
};

Options read_options(const nlohmann::json& j) {
  OptionReader r(j, "gslice");
  Options o;
  o.ref_batch = r.integer("ref_batch", o.ref_batch, 0, kMaxBatchOption);
  o.max_batch = r.integer("max_batch", o.max_batch, 1, 64);
  o.target_fraction = r.positive("target_fraction", o.target_fraction);
  o.drop_expired = r.flag("drop_expired", o.drop_expired);
  r.done();
  return o;
}

class GslicePolicy final : public Policy {
 public:
  void check_options(const nlohmann::json& options) const override { read_options(options); }
  PartitionLayout start(const PolicyContext& ctx) override {
    ctx_ = &ctx;
    o_ = read_options(ctx.options);
    const Oracle& oracle = *ctx.oracle;
    const std::size_t n = ctx.models.size();
    const std::vector<int> split = split_sizes(oracle);
    cap_.resize(n);
    std::vector<int> knees(n);
    std::vector<bool> high(n);
    for (std::size_t i = 0; i < n; ++i) {
      const int64_t ref = o_.ref_batch > 0 ? o_.ref_batch : optimizer_batch(i, split.empty() ? std::vector<int>{oracle.sm_count()} : split);
      cap_[i] = std::clamp<int64_t>(ref, 1, o_.max_batch);
      knees[i] = oracle.knee_sms(static_cast<int>(i), ref);
      high[i] = ctx.models[i].high_priority;
    }
    PartitionLayout layout;
    if (n == 1 || split.empty()) {
      layout.sms = {oracle.sm_count()};
      partition_.assign(n, 0);
      return layout;
    }
    layout.sms = gslice_shares(knees, high, split.back(), split.front());
    partition_.resize(n);
    std::iota(partition_.begin(), partition_.end(), 0);
    return layout;
  }

  void on_completion(const Completion& c) override {
    const auto m = static_cast<std::size_t>(c.model);
    cap_[m] = gslice_adapt_batch(cap_[m], c.batch, c.finished_s - c.started_s,
                                 o_.target_fraction * ctx_->models[m].slo_s, o_.max_batch);
  }

  Decision decide(const View& v) override {
    Decision d;
    const std::vector<int64_t> live = live_queues(v, o_.drop_expired, d);
    if (v.layout_pending) return d;
    dispatch_greedy(v, live, cap_, d, partition_);
    return d;
  }

 private:
  // The optimizer's batch for model i alone: its SLO and configured rate, no cycle.
  int64_t optimizer_batch(std::size_t i, const std::vector<int>& sizes) const {
    const ModelSpec& m = ctx_->models[i];
    const auto p = batch_problem(m, m.rate_rps, std::nullopt, sizes, o_.max_batch);
    return batch_or_fallback(*ctx_->oracle, static_cast<int>(i), p).batch;
  }

  const PolicyContext* ctx_ = nullptr;
  Options o_;
  std::vector<int64_t> cap_;
  std::vector<int> partition_;
};

}  // namespace

std::unique_ptr<Policy> make_gslice_policy() { return std::make_unique<GslicePolicy>(); }

}  // namespace dstack::sched
