// D-STACK (../shared/PAPER.md, "D-STACK scheduler"), as dstack formulates it.
//
// Plan (at start and whenever a model's estimated rate moves by more than `replan_change`):
//  1. Each model alone gets (b_i, S_i) from the batch optimizer for its SLO and rate, over the
//     partition sizes the split groups allow. If the S_i do not fit in the split SMs together, models
//     step down to smaller partitions one at a time (each step the one whose SM-time per request
//     grows least, keeping its SLO and rate feasible) until they fit or nobody can step down. If
//     they fit, every model runs in its own partition (spatial); spare split groups go one at a time
//     to the model whose batch latency falls the most (relative) from one more group. A single model
//     takes the whole GPU.
//  2. Otherwise space and time: a cycle C <= min_i SLO_i / 2 (tried at 1, 3/4, 1/2 and 1/4 of that
//     bound; the largest that packs without overload wins, else the least overloaded); each
//     model's (b_i, S_i) from the
//     optimizer with that cycle, n_i = ceil(rate_i·C / b_i) runs per cycle, each a rectangle
//     S_i × T_i(b_i, S_i). Our interpretation of "stacking rectangles on a skyline": partitions are
//     columns of the split groups, each a timeline of length C; models, widest first, go whole
//     (all n_i runs) into the first column as wide as they need with n_i·T_i of time left, else
//     open a new column; when neither works (overload) the model with the most SM-time per cycle
//     gives up one run (max-min fair in SM-time, never below one run: no model starves) and the
//     packing is retried; models still left over join the column with the most time left. Spare
//     groups widen the column whose cycle time shrinks most.
// Run time: each partition cycles through its models' slots (model i appears n_i times);
// work-conserving: a free partition runs the next slot's model that has requests, taking up to
// b_i of them (under load the queue fills the batch while the previous run executes). Requests that
// would miss their deadline even if the batch ran now (predicted finish = now + T) are dropped and
// counted as rejected, rather than run late at the expense of requests that can still be on time.
// Rates are estimated online (EWMA over `epoch_s` epochs).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "runtime/sched/policy_support.h"

namespace dstack::sched {
namespace {

struct Options {
  RateOptions rates;           // epoch_s, ewma
  double replan_change = 0.2;  // relative rate change that re-plans
  int64_t max_batch = 64;
  bool drop_expired = true;
};

Options read_options(const nlohmann::json& j) {
  OptionReader r(j, "dstack");
  Options o;
  o.rates = read_rate_options(r);
  o.replan_change = r.number("replan_change", o.replan_change, 0.0, 100.0);
  o.max_batch = r.integer("max_batch", o.max_batch, 1, kMaxBatchOption);
  o.drop_expired = r.flag("drop_expired", o.drop_expired);
  r.done();
  return o;
}

struct Plan {
  PartitionLayout layout;
  std::vector<std::vector<int>> slots;  // per partition: model indices, in cycle order
  std::vector<int64_t> batch;           // per model
  double cycle_s = 0;                   // 0: spatial
};

class DstackPolicy final : public Policy {
 public:
  void check_options(const nlohmann::json& options) const override { read_options(options); }
  PartitionLayout start(const PolicyContext& ctx) override {
    ctx_ = &ctx;
    o_ = read_options(ctx.options);
    rates_.start(ctx.models, o_.rates);
    plan_ = make_plan(rates_.rates());
    planned_rate_ = rates_.rates();
    cursor_.assign(plan_.slots.size(), 0);
    return plan_.layout;
  }

  void on_arrival(int model, double /*t*/) override { rates_.count(model); }

  Decision decide(const View& v) override {
    Decision d;
    if (rates_.advance(v.now_s) && rates_moved(rates_.rates(), planned_rate_, o_.replan_change)) replan(d);
    d.wake_at_s = rates_.epoch_end();
    std::vector<int64_t> queued = live_queues(v, o_.drop_expired, d);
    if (d.layout || v.layout_pending || v.layout->partitions.size() != plan_.slots.size()) return d;
    std::vector<bool> taken(v.models.size(), false);
    for (std::size_t p = 0; p < plan_.slots.size(); ++p)
      if (v.partition_runs[p] <= 0) dispatch_next_slot(v, p, queued, taken, d);
    return d;
  }

 private:
  // A new plan for the estimated rates; its layout goes into d when it differs from the current one.
  void replan(Decision& d) {
    Plan next = make_plan(rates_.rates());
    planned_rate_ = rates_.rates();
    if (!(next.layout == plan_.layout)) d.layout = next.layout;
    plan_ = std::move(next);
    cursor_.assign(plan_.slots.size(), 0);
  }

  // Free partition p runs the next of its slots whose model has requests and is free (`taken`: it
  // got a dispatch in this decision), after dropping the requests that batch would finish late.
  void dispatch_next_slot(const View& v, std::size_t p, std::vector<int64_t>& queued, std::vector<bool>& taken,
                          Decision& d) {
    const auto& slots = plan_.slots[p];
    for (std::size_t k = 0; k < slots.size(); ++k) {
      const std::size_t at = (cursor_[p] + k) % slots.size();
      const auto m = static_cast<std::size_t>(slots[at]);
      if (queued[m] <= 0 || v.models[m].in_flight || taken[m]) continue;
      if (o_.drop_expired) drop_late(v, p, m, queued, d);
      if (queued[m] <= 0) continue;
      d.dispatches.push_back({static_cast<int>(m), std::min(queued[m], plan_.batch[m]), static_cast<int>(p)});
      taken[m] = true;
      cursor_[p] = (at + 1) % slots.size();
      return;
    }
  }

  // Drops model m's requests that its batch on partition p, started now, would finish late.
  void drop_late(const View& v, std::size_t p, std::size_t m, std::vector<int64_t>& queued, Decision& d) const {
    const int64_t batch = std::min(queued[m], plan_.batch[m]);
    sched::drop_late(v, static_cast<int>(m), oracle().latency_s(static_cast<int>(m), batch, v.layout->partitions[p].sms),
                     queued, d);
  }

  const Oracle& oracle() const { return *ctx_->oracle; }

  std::vector<int> split_sizes() const { return sched::split_sizes(oracle()); }
  int split_capacity() const { return split_sizes().empty() ? 0 : split_sizes().back(); }
  int group() const { return split_sizes().empty() ? oracle().sm_count() : split_sizes().front(); }

  // batch_or_fallback() for model i (with an unsustainable rate the model is overloaded: its
  // excess requests expire; when not even batch 1 meets its SLO, its requests run late).
  analysis::BatchChoice choose(std::size_t i, double rate, std::optional<double> cycle,
                               const std::vector<int>& sizes) const {
    return batch_or_fallback(oracle(), static_cast<int>(i), problem(i, rate, cycle, sizes));
  }

  // The optimizer's choice when the SLO and the rate can both be met on `sizes`.
  std::optional<analysis::BatchChoice> feasible(std::size_t i, double rate, std::optional<double> cycle,
                                                const std::vector<int>& sizes) const {
    return feasible_batch(oracle(), static_cast<int>(i), problem(i, rate, cycle, sizes));
  }

  analysis::BatchProblem problem(std::size_t i, double rate, std::optional<double> cycle,
                                 const std::vector<int>& sizes) const {
    return batch_problem(ctx_->models[i], rate, cycle, sizes, o_.max_batch);
  }

  Plan make_plan(const std::vector<double>& rates) const {
    const std::size_t n = rates.size();
    Plan plan;
    plan.batch.resize(n);
    if (n == 1 || split_capacity() == 0) {
      std::vector<int> whole = {oracle().sm_count()};
      for (std::size_t i = 0; i < n; ++i) plan.batch[i] = choose(i, rates[i], std::nullopt, whole).batch;
      plan.layout.sms = {oracle().sm_count()};
      plan.slots = {std::vector<int>(n)};
      std::iota(plan.slots[0].begin(), plan.slots[0].end(), 0);
      return plan;
    }
    const std::vector<int> sizes = split_sizes();
    std::vector<int> width(n);
    int total = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const auto c = choose(i, rates[i], std::nullopt, sizes);
      plan.batch[i] = c.batch;
      width[i] = c.sms;
      total += c.sms;
    }
    // Step models down to smaller partitions until they fit side by side, cheapest step first.
    while (total > split_capacity()) {
      std::size_t best = n;
      analysis::BatchChoice best_choice;
      double best_increase = INFINITY;
      for (std::size_t i = 0; i < n; ++i) {
        std::vector<int> smaller;
        for (int x : sizes)
          if (x < width[i]) smaller.push_back(x);
        if (smaller.empty()) continue;
        const auto c = feasible(i, rates[i], std::nullopt, smaller);
        if (!c) continue;
        const double before = width[i] * oracle().latency_s(static_cast<int>(i), plan.batch[i], width[i]) /
                              static_cast<double>(plan.batch[i]);
        const double increase = c->sm_seconds_per_request - before;
        if (increase < best_increase) best_increase = increase, best = i, best_choice = *c;
      }
      if (best == n) break;
      total += best_choice.sms - width[best];
      width[best] = best_choice.sms;
      plan.batch[best] = best_choice.batch;
    }
    if (total <= split_capacity()) {
      for (int spare = (split_capacity() - total) / group(); spare > 0; --spare) {
        std::size_t best = n;
        double best_gain = 0;
        for (std::size_t i = 0; i < n; ++i) {
          const double t = oracle().latency_s(static_cast<int>(i), plan.batch[i], width[i]);
          const double t2 = oracle().latency_s(static_cast<int>(i), plan.batch[i], width[i] + group());
          if ((t - t2) / t > best_gain) best_gain = (t - t2) / t, best = i;
        }
        if (best == n) break;  // nobody gains: leave the SMs idle rather than waste a switch
        width[best] += group();
      }
      for (std::size_t i = 0; i < n; ++i) {
        plan.layout.sms.push_back(width[i]);
        plan.slots.push_back({static_cast<int>(i)});
      }
      return plan;
    }
    const double bound = half_min_slo(ctx_->models);
    Plan best;
    double best_shortfall = INFINITY;
    for (double f : {1.0, 0.75, 0.5, 0.25}) {
      double shortfall = 0;
      Plan p = stack(rates, sizes, f * bound, &shortfall);
      if (shortfall < best_shortfall - 1e-12) best_shortfall = shortfall, best = std::move(p);
      if (shortfall <= 0) break;
    }
    return best;
  }

  struct Column {
    int width = 0;
    std::vector<int> models;
    double used_s = 0;
  };

  // Packs the models into columns over one cycle; `shortfall` gets the SM-time per cycle the plan
  // could not grant (runs given up, and time past the cycle in overfull columns).
  Plan stack(const std::vector<double>& rates, const std::vector<int>& sizes, double cycle, double* shortfall) const {
    const std::size_t n = rates.size();
    Plan plan;
    plan.cycle_s = cycle;
    plan.batch.resize(n);
    std::vector<int> width(n), runs(n), wanted(n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto c = choose(i, rates[i], cycle, sizes);
      plan.batch[i] = c.batch;
      width[i] = c.sms;
      runs[i] = std::max(1, static_cast<int>(std::ceil(rates[i] * cycle / static_cast<double>(c.batch) - 1e-9)));
      wanted[i] = runs[i];
    }
    auto time_of = [&](std::size_t i, int w) {
      return runs[i] * oracle().latency_s(static_cast<int>(i), plan.batch[i], w);
    };
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return width[a] > width[b]; });
    std::vector<Column> cols;
    std::vector<std::size_t> left;
    while (true) {
      cols.clear();
      left.clear();
      int used = 0;
      for (std::size_t i : order) {
        bool placed = false;
        for (auto& c : cols)
          if (c.width >= width[i] && c.used_s + time_of(i, c.width) <= cycle) {
            c.models.push_back(static_cast<int>(i));
            c.used_s += time_of(i, c.width);
            placed = true;
            break;
          }
        if (!placed && used + width[i] <= split_capacity()) {
          cols.push_back({width[i], {static_cast<int>(i)}, time_of(i, width[i])});
          used += width[i];
          placed = true;
        }
        if (!placed) left.push_back(i);
      }
      if (left.empty()) break;
      // Overload: the model with the most SM-time per cycle gives up a run, if any can.
      std::size_t give = n;
      double most = 0;
      for (std::size_t i = 0; i < n; ++i)
        if (runs[i] > 1 && width[i] * time_of(i, width[i]) > most) most = width[i] * time_of(i, width[i]), give = i;
      if (give == n) break;
      --runs[give];
    }
    for (std::size_t i : left) {
      auto it = std::min_element(cols.begin(), cols.end(),
                                 [](const Column& a, const Column& b) { return a.used_s < b.used_s; });
      it->models.push_back(static_cast<int>(i));
      it->used_s += time_of(i, it->width);
    }
    *shortfall = 0;
    for (std::size_t i = 0; i < n; ++i) *shortfall += (wanted[i] - runs[i]) * width[i] * time_of(i, width[i]) / runs[i];
    for (const auto& c : cols) *shortfall += std::max(0.0, c.used_s - cycle) * c.width;
    int used = 0;
    for (const auto& c : cols) used += c.width;
    for (int spare = (split_capacity() - used) / group(); spare > 0; --spare) {
      Column* best = nullptr;
      double best_gain = 0;
      for (auto& c : cols) {
        double wider = 0;
        for (int m : c.models) wider += time_of(static_cast<std::size_t>(m), c.width + group());
        if (c.used_s - wider > best_gain) best_gain = c.used_s - wider, best = &c;
      }
      if (!best) break;
      best->width += group();
      best->used_s -= best_gain;
    }
    for (const auto& c : cols) {
      plan.layout.sms.push_back(c.width);
      // Slots interleave the column's models by their runs: A A B -> A B A.
      std::vector<int> slots, remaining;
      for (int m : c.models) remaining.push_back(runs[static_cast<std::size_t>(m)]);
      for (bool any = true; any;) {
        any = false;
        for (std::size_t k = 0; k < c.models.size(); ++k)
          if (remaining[k] > 0) slots.push_back(c.models[k]), --remaining[k], any = true;
      }
      plan.slots.push_back(std::move(slots));
    }
    return plan;
  }

  const PolicyContext* ctx_ = nullptr;
  Options o_;
  RateEstimator rates_;
  std::vector<double> planned_rate_;  // the rates the plan in force was made for
  Plan plan_;
  std::vector<std::size_t> cursor_;
};

}  // namespace

std::unique_ptr<Policy> make_dstack_policy() { return std::make_unique<DstackPolicy>(); }

}  // namespace dstack::sched
