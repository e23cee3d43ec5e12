#include "runtime/serve/serve_loop.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <limits>
#include <map>
#include <stdexcept>

namespace dstack::serve {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Arrival {
  double t = 0;
  int model = 0;
};

class Loop {
 public:
  Loop(Backend& backend, sched::Policy& policy, const sched::PolicyContext& ctx,
       const std::vector<std::vector<double>>& arrivals, const ServeOptions& o)
      : b_(backend), p_(policy), ctx_(ctx), o_(o), queues_(ctx.models.size()), state_(ctx.models.size()),
        in_flight_run_(ctx.models.size(), -1) {
    if (arrivals.size() != ctx.models.size())
      throw std::invalid_argument(fmt::format("serve: {} arrival lists for {} models", arrivals.size(),
                                              ctx.models.size()));
    for (std::size_t m = 0; m < arrivals.size(); ++m)
      for (double t : arrivals[m]) {
        if (!(t >= 0 && t < o.duration_s))
          throw std::invalid_argument(fmt::format("serve: arrival at {} s of model {} outside [0, {})", t, m,
                                                  o.duration_s));
        arrivals_.push_back({t, static_cast<int>(m)});
      }
    // Ties in time go to the lower model index: deterministic.
    std::stable_sort(arrivals_.begin(), arrivals_.end(), [](const Arrival& a, const Arrival& c) {
      return a.t < c.t || (a.t == c.t && a.model < c.model);
    });
    r_.requests.reserve(arrivals_.size());
    r_.peak_queued.assign(arrivals.size(), 0);
  }

  ServeResult run() {
    t0_ = b_.now();
    r_.clock_start_s = t0_;
    probes_ = {o_.window_start_s, o_.duration_s};
    probe_at_.clear();
    take_probes();
    apply_layout(p_.start(ctx_));
    const double stop = o_.duration_s + o_.drain_s;
    std::optional<double> wake;
    bool probe_only = false;  // the clock stopped only to read the occupancy counter
    while (true) {
      admit();
      const bool serving = now() < stop;
      // A probe is no event for the policy: it is not asked again, so probing changes no decision.
      if (!probe_only) wake = serving ? decide() : std::nullopt;
      const double next_arrival = next_ < arrivals_.size() ? arrivals_[next_].t : kInf;
      if (!serving && b_.in_flight() == 0) break;
      if (serving && b_.in_flight() == 0 && next_ >= arrivals_.size() && !wake && !pending_) {
        // Nothing runs, nothing arrives, the policy waits for nothing: what is queued stays so.
        break;
      }
      const double until = std::min({next_arrival, wake.value_or(kInf), serving ? stop : kInf});
      const double probe = next_probe();
      const double stop_at = std::min(until, probe);
      const auto c = b_.run_until(stop_at == kInf ? kInf : t0_ + stop_at);
      if (c) complete(*c);
      take_probes();
      probe_only = !c && probe < until;
    }
    finish();
    return std::move(r_);
  }

 private:
  double now() const { return b_.now() - t0_; }

  // The next window end the counter has not been read at (relative time), or infinity.
  double next_probe() const { return probe_at_.size() < probes_.size() ? probes_[probe_at_.size()] : kInf; }

  // Reads the occupancy counter at every window end the clock has reached. The clock never passes
  // one unread (run_until stops at it), so each read is the counter at that instant. Compared in
  // the backend's time, as run_until was given it, so rounding cannot leave a probe unreachable.
  void take_probes() {
    while (probe_at_.size() < probes_.size() && b_.now() >= t0_ + probes_[probe_at_.size()])
      probe_at_.push_back(b_.occupied_sm_seconds());
  }

  void fail(const std::string& what) const {
    throw std::logic_error(fmt::format("policy '{}' at {:.6f} s: {}", o_.policy_name, now(), what));
  }

  void admit() {
    const double t = now();
    while (next_ < arrivals_.size() && arrivals_[next_].t <= t) {
      const Arrival a = arrivals_[next_++];
      RequestRecord rec;
      rec.model = a.model;
      rec.arrival_s = a.t;
      auto& st = state_[static_cast<std::size_t>(a.model)];
      ++st.arrived;
      if (static_cast<int64_t>(queues_[static_cast<std::size_t>(a.model)].size()) >=
          ctx_.models[static_cast<std::size_t>(a.model)].max_queue) {
        rec.reason = RejectReason::queue_full;
      } else {
        auto& q = queues_[static_cast<std::size_t>(a.model)];
        q.push_back(r_.requests.size());
        auto& peak = r_.peak_queued[static_cast<std::size_t>(a.model)];
        peak = std::max(peak, static_cast<int64_t>(q.size()));
      }
      r_.requests.push_back(rec);
      p_.on_arrival(a.model, a.t);
    }
  }

  sched::View view() {
    sched::View v;
    v.now_s = now();
    v.models = state_;
    for (std::size_t m = 0; m < queues_.size(); ++m) {
      v.models[m].queued = static_cast<int64_t>(queues_[m].size());
      v.models[m].oldest_arrival_s = queues_[m].empty() ? 0 : r_.requests[queues_[m].front()].arrival_s;
      v.models[m].in_flight = in_flight_run_[m] >= 0;
      v.models[m].expired = late_if_finished_at(static_cast<int>(m), v.now_s);
    }
    v.late_if_finished_at = [this](int m, double t) { return late_if_finished_at(m, t); };
    v.layout = &b_.layout();
    v.partition_runs = partition_runs_;
    v.layout_pending = pending_.has_value();
    return v;
  }

  // Queues are in arrival order, so the requests that would be late form a prefix.
  int64_t late_if_finished_at(int m, double t) const {
    const auto& q = queues_.at(static_cast<std::size_t>(m));
    const double deadline_arrival = t - ctx_.models[static_cast<std::size_t>(m)].slo_s;
    const auto first_on_time = std::partition_point(
        q.begin(), q.end(), [&](std::size_t req) { return r_.requests[req].arrival_s < deadline_arrival; });
    return first_on_time - q.begin();
  }

  std::optional<double> decide() {
    while (true) {
      sched::Decision d = p_.decide(view());
      ++r_.decisions;
      for (const auto& [model, n] : d.drops) drop(model, n);
      if (d.layout && !(*d.layout == r_.layouts.back().requested)) pending_ = *d.layout;
      bool applied = false;
      if (pending_ && b_.in_flight() == 0) {
        apply_layout(*pending_);
        pending_.reset();
        applied = true;
      }
      if (pending_ && !d.dispatches.empty()) fail("dispatched while its new layout waits for the GPU to drain");
      for (const auto& x : d.dispatches) dispatch(x);
      // A layout requested earlier has just taken effect: the policy sees it before time moves on.
      if (applied && !d.layout && d.dispatches.empty()) continue;
      if (d.wake_at_s && *d.wake_at_s > now()) return d.wake_at_s;
      return std::nullopt;
    }
  }

  void drop(int model, int64_t n) {
    if (model < 0 || model >= static_cast<int>(queues_.size()) || n < 0)
      fail(fmt::format("dropped {} requests of model {}", n, model));
    auto& q = queues_[static_cast<std::size_t>(model)];
    if (n > static_cast<int64_t>(q.size())) fail(fmt::format("dropped {} of {} queued requests", n, q.size()));
    for (int64_t i = 0; i < n; ++i) {
      r_.requests[q.front()].reason = RejectReason::dropped;
      q.pop_front();
    }
  }

  void dispatch(const sched::Dispatch& x) {
    if (x.model < 0 || x.model >= static_cast<int>(queues_.size())) fail(fmt::format("dispatched model {}", x.model));
    const auto m = static_cast<std::size_t>(x.model);
    const std::string& name = ctx_.models[m].name;
    if (in_flight_run_[m] >= 0) fail(fmt::format("dispatched {} while its previous batch runs", name));
    auto& q = queues_[m];
    if (x.batch < 1 || x.batch > static_cast<int64_t>(q.size()))
      fail(fmt::format("dispatched a batch of {} of {} with {} queued", x.batch, name, q.size()));
    if (x.partition < 0 || x.partition >= static_cast<int>(b_.layout().partitions.size()))
      fail(fmt::format("dispatched {} to partition {} of a layout with {}", name, x.partition,
                       b_.layout().partitions.size()));
    RunRecord run;
    run.model = x.model;
    run.batch = x.batch;
    run.layout = static_cast<int>(r_.layouts.size()) - 1;
    run.partition = x.partition;
    const ResolvedPartition& part = b_.layout().partitions[static_cast<std::size_t>(x.partition)];
    run.partition_sms = part.sms;
    run.first_sm = b_.layout().whole_gpu ? 0 : part.first_group * b_.granularity().split_group_sms;
    run.submitted_s = now();
    const int index = static_cast<int>(runs_.size());
    for (int64_t i = 0; i < x.batch; ++i) {
      RequestRecord& rec = r_.requests[q.front()];
      rec.dispatched_s = now();
      rec.batch = x.batch;
      members_[index].push_back(q.front());
      q.pop_front();
    }
    runs_.push_back(run);
    in_flight_run_[m] = index;
    ++partition_runs_[static_cast<std::size_t>(x.partition)];
    b_.submit(RunRequest{.model = name,
                         .batch = x.batch,
                         .precision = ctx_.precision,
                         .partition = x.partition,
                         .dispatch = x.dispatch,
                         .tag = static_cast<uint64_t>(index)});
  }

  void complete(const RunCompletion& c) {
    const int index = static_cast<int>(c.request.tag);
    RunRecord& run = runs_[static_cast<std::size_t>(index)];
    run.started_s = c.started_s - t0_;
    run.finished_s = c.finished_s - t0_;
    const auto m = static_cast<std::size_t>(run.model);
    sched::Completion done{run.model, run.batch, run.partition, run.started_s, run.finished_s, 0};
    for (std::size_t req : members_[index]) {
      RequestRecord& rec = r_.requests[req];
      rec.finished_s = run.finished_s;
      const bool late = rec.finished_s - rec.arrival_s > ctx_.models[m].slo_s;
      rec.outcome = late ? Outcome::late : Outcome::served;
      done.slo_misses += late ? 1 : 0;
    }
    members_.erase(index);
    in_flight_run_[m] = -1;
    --partition_runs_[static_cast<std::size_t>(run.partition)];
    r_.runs.push_back(run);
    p_.on_completion(done);
  }

  void apply_layout(const PartitionLayout& layout) {
    LayoutRecord rec;
    rec.at_s = now();
    rec.requested = layout;
    try {
      rec.resolved = b_.set_layout(layout);
    } catch (const std::invalid_argument& e) {
      fail(fmt::format("asked for layout {}: {}", layout_str(layout), e.what()));
    }
    r_.layouts.push_back(rec);
    partition_runs_.assign(rec.resolved.partitions.size(), 0);
  }

  void finish() {
    for (auto& q : queues_)
      for (std::size_t req : q) r_.requests[req].reason = RejectReason::unserved;
    // Every arrival has its record, and every record not completed has the reason it was not.
    if (r_.requests.size() != arrivals_.size())
      fail(fmt::format("{} requests recorded of {} arrivals", r_.requests.size(), arrivals_.size()));
    for (const RequestRecord& rec : r_.requests)
      if (rec.finished_s < 0 && rec.reason == RejectReason::none)
        fail(fmt::format("a request of model {} arrived at {:.6f} s neither completed nor rejected", rec.model,
                         rec.arrival_s));
    r_.end_s = std::max(now(), o_.duration_s);
    r_.busy_sm_seconds = busy_sm_seconds(r_, 0, r_.end_s);
    // Stopped before a window end: nothing is in flight, so the counter holds still until then.
    while (probe_at_.size() < probes_.size()) probe_at_.push_back(b_.occupied_sm_seconds());
    if (probe_at_[0] && probe_at_[1]) r_.window_occupied_sm_seconds = *probe_at_[1] - *probe_at_[0];
  }

  Backend& b_;
  sched::Policy& p_;
  const sched::PolicyContext& ctx_;
  ServeOptions o_;
  std::vector<Arrival> arrivals_;
  std::size_t next_ = 0;
  double t0_ = 0;
  std::vector<std::deque<std::size_t>> queues_;  // request indices, oldest first
  std::vector<sched::QueueState> state_;
  std::vector<int> in_flight_run_;               // per model: run index or -1
  std::vector<int> partition_runs_;
  std::vector<RunRecord> runs_;                  // by dispatch order (tag)
  std::map<int, std::vector<std::size_t>> members_;
  std::optional<PartitionLayout> pending_;
  std::vector<double> probes_;                     // window ends, relative time, ascending
  std::vector<std::optional<double>> probe_at_;    // the counter read at each so far
  ServeResult r_;
};

}  // namespace

double busy_sm_seconds(const ServeResult& result, double from_s, double to_s) {
  std::map<std::pair<int, int>, std::vector<std::pair<double, double>>> spans;
  std::map<std::pair<int, int>, int> sms;
  for (const auto& run : result.runs) {
    const double a = std::max(run.started_s, from_s), z = std::min(run.finished_s, to_s);
    if (z <= a) continue;
    spans[{run.layout, run.partition}].emplace_back(a, z);
    sms[{run.layout, run.partition}] = run.partition_sms;
  }
  double total = 0;
  for (auto& [key, v] : spans) {
    std::sort(v.begin(), v.end());
    double busy = 0, s = v[0].first, e = v[0].second;
    for (const auto& [a, z] : v) {
      if (a > e) {
        busy += e - s;
        s = a;
        e = z;
      } else {
        e = std::max(e, z);
      }
    }
    total += (busy + e - s) * sms[key];
  }
  return total;
}

ServeResult serve(Backend& backend, sched::Policy& policy, const sched::PolicyContext& context,
                  const std::vector<std::vector<double>>& arrivals, const ServeOptions& options) {
  if (!(options.duration_s > 0)) throw std::invalid_argument("serve: duration must be positive");
  if (!(options.drain_s >= 0)) throw std::invalid_argument("serve: drain must be >= 0");
  if (!(options.window_start_s >= 0 && options.window_start_s < options.duration_s))
    throw std::invalid_argument("serve: the metrics window must start in [0, duration)");
  return Loop(backend, policy, context, arrivals, options).run();
}

}  // namespace dstack::serve
