#include "runtime/sim/engine.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <map>
#include <stdexcept>

#include "runtime/sim/bandwidth.h"

namespace dstack::sim {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Blocks dispatched together on a lane; they finish together when the lane's work counter reaches
// finish_v (every block is one unit of work).
struct Entry {
  double finish_v = 0;
  int64_t blocks = 0;    // blocks it completes
  int64_t resident = 0;  // of which resident at once (fewer for several identical waves in one entry)
  int per_sm = 0;     // blocks it holds on each SM it occupies (the busiest, in fast mode)
  double charge = 0;  // blocks it holds per SM of its group on average (n / SMs in fast mode)
};

// The blocks of one running kernel on one group (an SM in block mode, a pool in fast mode). They all
// progress at one rate, so they finish in dispatch order.
struct Lane {
  int kernel = -1;
  int group = -1;
  std::deque<Entry> entries;
  int per_sm = 0;
  double charge = 0;
  int64_t resident = 0;
  // Work units done by the lane: v_at + rate * (t - t_at). Re-anchored only when the rate changes,
  // so a lane whose rate nobody changes finishes at the same instants whatever else happens
  // meanwhile (bit-identical partition isolation).
  double v_at = 0;
  double t_at = 0;
  double rate = 0;   // units per second now
  double speed = 0;  // units per second without DRAM contention
  double demand = 0; // DRAM bytes per second at that speed
  Bound base_bound = Bound::compute;  // without DRAM contention
  Bound bound = Bound::compute;
  bool live = false;
};

// What runs on SMs: one SM (block mode) or a pool seen as `sms` identical SMs (fast mode).
struct Group {
  std::array<double, kSmResources> used{};
  double warps = 0;  // resident per SM (on average over the group's SMs in fast mode)
  int sms = 1;
  int local = 0;  // index within its pool (block mode)
  int pool = -1;
  std::vector<int> lanes;
};

struct Pool {
  std::vector<int> groups;
  int sms = 0;
  std::vector<int> queue;  // active kernels in dispatch order (first come, first served)
  // Blocks finished or kernels arrived since the last dispatch: only such pools can place more
  // blocks, and only their lanes' speeds can change.
  bool dirty = false;
};

struct Active {
  int run = -1;
  int index = 0;
  const SimKernel* k = nullptr;
  int pool = -1;
  int64_t to_dispatch = 0;
  int64_t unfinished = 0;
  int64_t resident = 0;
  double ready = 0, start = -1;
  std::vector<int> lane_of;      // per group of the pool
  std::vector<char> touched;     // block mode: SMs that ran a block
  int sms_used = 0;
  int max_resident = 0;
  int64_t waves = 0;
  std::array<double, 3> bound_time{};
  Bound bound = Bound::compute;
  double factor = 1;             // DRAM share factor now
  bool live = false;
};

struct Run {
  std::shared_ptr<const SimPlan> plan;
  int pool = -1;
  DispatchMode dispatch = DispatchMode::graph;
  bool record = false;
  std::size_t next = 0;     // next kernel to become ready
  double next_ready = kInf; // when it does (kInf while one is active)
  int active = -1;
  double prev_end = -kInf;
  bool started = false;
  RunTiming timing;
};

}  // namespace

struct Engine::State {
  DeviceSpec device;
  SimMode mode;
  double now = 0;
  uint64_t events = 0;
  std::vector<Group> groups;
  std::vector<int> group_of_sm;  // block mode: SM -> group; -1 outside every pool
  std::vector<Pool> pools;
  std::vector<Lane> lanes;
  std::vector<int> free_lanes;
  std::vector<Active> actives;
  std::vector<int> free_actives;
  std::map<int, Run> runs;       // ordered by id: deterministic iteration
  int next_run = 0;
  std::deque<int> completed;
  std::map<int, RunTiming> results;
  // Scratch for the bandwidth split.
  std::vector<double> demand, weight, factor;
  std::vector<int> order, kernel_ids;

  State(const DeviceSpec& d, SimMode m) : device(d), mode(m), group_of_sm(d.sm_count, -1) {}

  // ---- lanes and kernels ---------------------------------------------------------------------
  double work_done(const Lane& l) const { return l.v_at + l.rate * (now - l.t_at); }
  double finish_time(const Lane& l) const { return l.t_at + (l.entries.front().finish_v - l.v_at) / l.rate; }

  int lane_for(Active& a, int group_index_in_pool) {
    int& id = a.lane_of[group_index_in_pool];
    if (id >= 0) return id;
    if (!free_lanes.empty()) {
      id = free_lanes.back();
      free_lanes.pop_back();
    } else {
      id = static_cast<int>(lanes.size());
      lanes.emplace_back();
    }
    Lane& l = lanes[id];
    l = Lane{};
    l.t_at = now;
    l.kernel = static_cast<int>(&a - actives.data());
    l.group = pools[a.pool].groups[group_index_in_pool];
    l.live = true;
    groups[l.group].lanes.push_back(id);
    return id;
  }

  // `waves` identical waves of `resident` blocks each (`blocks` in all) as one entry.
  void place(Active& a, int group_index_in_pool, int64_t blocks, int per_sm, double charge, int64_t resident = -1,
             int64_t waves = 1) {
    if (resident < 0) resident = blocks;
    const int lid = lane_for(a, group_index_in_pool);
    Lane& l = lanes[lid];
    Group& g = groups[l.group];
    l.entries.push_back(Entry{work_done(l) + static_cast<double>(waves), blocks, resident, per_sm, charge});
    l.per_sm += per_sm;
    l.charge += charge;
    l.resident += resident;
    for (int r = 0; r < kSmResources; ++r) g.used[r] += charge * a.k->use[r];
    g.warps += charge * a.k->warps;
    a.to_dispatch -= blocks;
    a.resident += resident;
    a.max_resident = static_cast<int>(std::max<int64_t>(a.max_resident, a.resident));
    if (a.start < 0) a.start = now;
  }

  // Block mode: one block at a time, in rounds over the pool's SMs so a wave spreads evenly.
  bool dispatch_blocks(Active& a) {
    const Pool& p = pools[a.pool];
    bool placed = true;
    while (a.to_dispatch > 0 && placed) {
      placed = false;
      for (int i = 0; i < p.sms && a.to_dispatch > 0; ++i) {
        if (blocks_that_fit(*a.k, groups[p.groups[i]].used) < 1) continue;
        place(a, i, 1, 1, 1.0);
        if (!a.touched[i]) {
          a.touched[i] = 1;
          ++a.sms_used;
        }
        placed = true;
      }
    }
    if (a.max_resident > 0) a.waves = (a.k->blocks + a.max_resident - 1) / a.max_resident;
    return a.to_dispatch == 0;
  }

  // Fast mode: a wave of as many blocks as fit on every SM of the pool; a short (tail) wave holds
  // ceil(n / sms) blocks on the SMs it uses. The pool's resources and load are tracked per SM on
  // average (n / sms), so a tail wave on a few SMs leaves the rest to other streams' kernels.
  bool dispatch_wave(Active& a) {
    const Pool& p = pools[a.pool];
    const Group& g = groups[p.groups[0]];
    const int fit = blocks_that_fit(*a.k, g.used);
    if (fit < 1) return false;
    const int64_t wave = static_cast<int64_t>(fit) * p.sms;
    // Alone in its pool, the full waves before the last one are identical and nothing else can
    // dispatch meanwhile (first come, first served; blocks remain): one entry for all of them.
    if (g.lanes.empty() && a.to_dispatch > 2 * wave) {
      const int64_t k = (a.to_dispatch - 1) / wave - 1;
      if (k >= 2) {
        place(a, 0, k * wave, fit, fit, wave, k);
        a.sms_used = std::max(a.sms_used, p.sms);
        a.waves += k;
        return false;
      }
    }
    const int64_t n = std::min<int64_t>(a.to_dispatch, wave);
    const int per_sm = static_cast<int>((n + p.sms - 1) / p.sms);
    place(a, 0, n, per_sm, static_cast<double>(n) / p.sms);
    a.sms_used = std::max<int>(a.sms_used, static_cast<int>(std::min<int64_t>(n, p.sms)));
    ++a.waves;
    return a.to_dispatch == 0;
  }

  void dispatch(int pool) {
    for (int id : pools[pool].queue) {
      Active& a = actives[id];
      if (a.to_dispatch == 0) continue;
      const bool all = mode == SimMode::block ? dispatch_blocks(a) : dispatch_wave(a);
      if (!all) return;  // first come, first served: later kernels wait for this one's blocks
    }
  }

  void release_lane(int lid) {
    Lane& l = lanes[lid];
    Group& g = groups[l.group];
    g.lanes.erase(std::find(g.lanes.begin(), g.lanes.end(), lid));
    if (g.lanes.empty()) {  // drop accumulated rounding
      g.used.fill(0);
      g.warps = 0;
    }
    Active& a = actives[l.kernel];
    const Pool& p = pools[a.pool];
    const int local = mode == SimMode::block ? groups[l.group].local : 0;
    (void)p;
    a.lane_of[local] = -1;
    l.live = false;
    l.entries.clear();
    free_lanes.push_back(lid);
  }

  // ---- runs ----------------------------------------------------------------------------------
  void schedule_next(Run& r) {
    const auto& t = device.timing;
    const std::size_t i = r.next;
    const bool graph = r.dispatch == DispatchMode::graph;
    // Per-kernel: the host issues one launch after another; a graph is one launch for all.
    const double issued = graph ? r.timing.issue_s + t.graph_launch_us * 1e-6
                                : r.timing.issue_s + static_cast<double>(i + 1) * t.launch_overhead_us * 1e-6;
    const double gap = (graph ? t.graph_kernel_gap_us : t.kernel_gap_us) * 1e-6;
    r.next_ready = std::max(issued, r.prev_end + gap);
  }

  void activate(int run_id, Run& r) {
    int id;
    if (!free_actives.empty()) {
      id = free_actives.back();
      free_actives.pop_back();
    } else {
      id = static_cast<int>(actives.size());
      actives.emplace_back();
    }
    Active& a = actives[id];
    a = Active{};
    a.run = run_id;
    a.index = static_cast<int>(r.next);
    a.k = &r.plan->kernels[r.next];
    a.pool = r.pool;
    a.to_dispatch = a.unfinished = a.k->blocks;
    a.ready = now;
    const int width = mode == SimMode::block ? pools[r.pool].sms : 1;
    a.lane_of.assign(width, -1);
    if (mode == SimMode::block) a.touched.assign(width, 0);
    a.live = true;
    r.active = id;
    r.next_ready = kInf;
    pools[r.pool].queue.push_back(id);
    pools[r.pool].dirty = true;
  }

  void finish_kernel(int id) {
    Active& a = actives[id];
    Run& r = runs.at(a.run);
    if (r.record) {
      KernelTiming kt;
      kt.kernel = a.index;
      kt.ready_s = a.ready;
      kt.start_s = a.start;
      kt.end_s = now;
      kt.waves = a.waves;
      kt.sms_used = a.sms_used;
      kt.max_resident = a.max_resident;
      const auto& bt = a.bound_time;
      kt.bound = bt[1] >= bt[0] && bt[1] >= bt[2] ? Bound::memory : bt[0] >= bt[2] ? Bound::compute : Bound::latency;
      r.timing.kernels.push_back(kt);
    }
    if (!r.started) {
      r.started = true;
      r.timing.start_s = a.start;
    }
    auto& q = pools[a.pool].queue;
    q.erase(std::find(q.begin(), q.end(), id));
    a.live = false;
    free_actives.push_back(id);
    r.active = -1;
    r.prev_end = now;
    ++r.next;
    if (r.next < r.plan->kernels.size()) {
      schedule_next(r);
    } else {
      r.timing.end_s = now;
      completed.push_back(a.run);
    }
  }

  // ---- the event loop ------------------------------------------------------------------------
  void recompute_rates() {
    const double sat = device.model.warps_to_saturate_sm;
    const double port = device.sm_dram_bytes_per_s();
    kernel_ids.clear();
    demand.clear();
    weight.clear();
    for (std::size_t id = 0; id < actives.size(); ++id) {
      Active& a = actives[id];
      if (!a.live || a.resident == 0) continue;
      a.factor = static_cast<double>(kernel_ids.size());  // index into the scratch arrays for now
      kernel_ids.push_back(static_cast<int>(id));
      demand.push_back(0);
      weight.push_back(static_cast<double>(a.resident) * a.k->warps);
    }
    for (Lane& l : lanes) {
      if (!l.live) continue;
      const Active& a = actives[l.kernel];
      if (!pools[a.pool].dirty && l.speed > 0) {  // nothing changed on its SMs: same speed
        demand[static_cast<std::size_t>(a.factor)] += l.demand;
        continue;
      }
      // The SMs this lane runs on hold its own blocks (the busiest SM's count) and, on average,
      // everyone else's.
      const double sm_warps = groups[l.group].warps + (l.per_sm - l.charge) * a.k->warps;
      const BlockRate br = block_rate(a.k->work, a.k->warps, sm_warps, sat, port);
      l.speed = 1.0 / br.time_s;
      l.base_bound = br.bound;
      l.demand = a.k->work.bytes * l.speed * static_cast<double>(l.resident);
      demand[static_cast<std::size_t>(a.factor)] += l.demand;
    }
    share_bandwidth(demand, weight, device.dram_bytes_per_s(), factor, order);
    for (std::size_t i = 0; i < kernel_ids.size(); ++i) actives[kernel_ids[i]].factor = factor[i];
    for (Lane& l : lanes) {
      if (!l.live) continue;
      Active& a = actives[l.kernel];
      const double rate = l.speed * a.factor;
      if (rate != l.rate) {
        l.v_at = work_done(l);
        l.t_at = now;
        l.rate = rate;
      }
      l.bound = a.factor < 1 ? Bound::memory : l.base_bound;
    }
    // A kernel's bound is that of its most populated lane.
    for (int id : kernel_ids) {
      Active& a = actives[id];
      int64_t best = -1;
      for (int lid : a.lane_of)
        if (lid >= 0 && lanes[lid].resident > best) {
          best = lanes[lid].resident;
          a.bound = lanes[lid].bound;
        }
    }
  }

  void advance(double dt) {
    if (dt <= 0) return;
    for (Active& a : actives)
      if (a.live && a.resident > 0) a.bound_time[static_cast<int>(a.bound)] += dt;
  }

  // Finished when due now (the lane the clock advanced to) or within rounding of it.
  bool done(const Lane& l) const {
    if (l.rate <= 0) return false;
    const double t = finish_time(l);
    return t <= now || t - now <= 1e-12 * std::max(now, 1e-6);
  }

  void process() {
    bool any_finished = false;
    for (std::size_t lid = 0; lid < lanes.size(); ++lid) {
      Lane& l = lanes[lid];
      if (!l.live) continue;
      Active& a = actives[l.kernel];
      Group& g = groups[l.group];
      while (!l.entries.empty() && done(l)) {
        const Entry e = l.entries.front();
        l.entries.pop_front();
        for (int r = 0; r < kSmResources; ++r) g.used[r] -= e.charge * a.k->use[r];
        g.warps -= e.charge * a.k->warps;
        l.per_sm -= e.per_sm;
        l.charge -= e.charge;
        l.resident -= e.resident;
        a.resident -= e.resident;
        a.unfinished -= e.blocks;
        any_finished = true;
        pools[g.pool].dirty = true;
      }
      if (l.entries.empty()) release_lane(static_cast<int>(lid));
    }
    if (any_finished)
      for (std::size_t id = 0; id < actives.size(); ++id)
        if (actives[id].live && actives[id].unfinished == 0) finish_kernel(static_cast<int>(id));
    for (auto& [id, r] : runs) {
      if (r.active >= 0 || r.next_ready > now) continue;
      if (r.plan->kernels.empty()) {  // nothing to launch: done once issued
        r.next_ready = kInf;
        r.timing.start_s = r.timing.end_s = now;
        completed.push_back(id);
        continue;
      }
      activate(id, r);
    }
    for (std::size_t p = 0; p < pools.size(); ++p)
      if (pools[p].dirty) dispatch(static_cast<int>(p));
    recompute_rates();
    for (Pool& p : pools) p.dirty = false;
  }

  std::optional<int> step(double until) {
    while (true) {
      if (!completed.empty()) {
        const int id = completed.front();
        completed.pop_front();
        auto it = runs.find(id);
        results[id] = std::move(it->second.timing);
        runs.erase(it);
        return id;
      }
      double t_next = kInf;
      for (const Lane& l : lanes)
        if (l.live && l.rate > 0) t_next = std::min(t_next, finish_time(l));
      for (const auto& [id, r] : runs)
        if (r.active < 0) t_next = std::min(t_next, r.next_ready);
      if (t_next == kInf || t_next > until) {
        if (until != kInf && until > now) {
          advance(until - now);
          now = until;
        }
        return std::nullopt;
      }
      t_next = std::max(t_next, now);
      advance(t_next - now);
      now = t_next;
      ++events;
      process();
      std::sort(completed.begin(), completed.end());  // one instant's completions, lowest run id first
    }
  }
};

const char* sim_mode_name(SimMode m) { return m == SimMode::block ? "block" : "fast"; }

SimMode parse_sim_mode(const std::string& s) {
  if (s == "block") return SimMode::block;
  if (s == "fast") return SimMode::fast;
  throw std::invalid_argument("unknown simulation mode '" + s + "'; choose block (every thread block) or fast (waves)");
}

Engine::Engine(const DeviceSpec& device, SimMode mode) : s_(std::make_unique<State>(device, mode)) {}
Engine::~Engine() = default;

SimMode Engine::mode() const { return s_->mode; }
const DeviceSpec& Engine::device() const { return s_->device; }

int Engine::add_pool(const std::vector<int>& sm_ids) {
  if (sm_ids.empty()) throw std::invalid_argument("a pool needs at least one SM");
  std::vector<int> sorted = sm_ids;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const int sm = sorted[i];
    if (sm < 0 || sm >= s_->device.sm_count)
      throw std::invalid_argument("SM " + std::to_string(sm) + " does not exist on " + s_->device.name + " (SMs 0 to " +
                                  std::to_string(s_->device.sm_count - 1) + ")");
    if (s_->group_of_sm[sm] >= 0 || (i > 0 && sorted[i - 1] == sm))
      throw std::invalid_argument("SM " + std::to_string(sm) + " is already in a partition; partitions are disjoint");
  }
  Pool p;
  p.sms = static_cast<int>(sorted.size());
  const int pool_id = static_cast<int>(s_->pools.size());
  if (s_->mode == SimMode::block) {
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      Group g;
      g.local = static_cast<int>(i);
      g.pool = pool_id;
      p.groups.push_back(static_cast<int>(s_->groups.size()));
      s_->group_of_sm[sorted[i]] = static_cast<int>(s_->groups.size());
      s_->groups.push_back(g);
    }
  } else {
    Group g;
    g.sms = p.sms;
    g.pool = pool_id;
    p.groups.push_back(static_cast<int>(s_->groups.size()));
    for (int sm : sorted) s_->group_of_sm[sm] = static_cast<int>(s_->groups.size());
    s_->groups.push_back(g);
  }
  s_->pools.push_back(std::move(p));
  return pool_id;
}

void Engine::clear_pools() {
  if (!idle()) throw std::logic_error("the simulated GPU has work in flight; wait for it before changing partitions");
  s_->pools.clear();
  s_->groups.clear();
  s_->lanes.clear();
  s_->free_lanes.clear();
  s_->actives.clear();
  s_->free_actives.clear();
  std::fill(s_->group_of_sm.begin(), s_->group_of_sm.end(), -1);
}

int Engine::pool_sms(int pool) const { return s_->pools.at(pool).sms; }

int Engine::start_run(std::shared_ptr<const SimPlan> plan, int pool, DispatchMode dispatch, double issue_s,
                      bool record_kernels) {
  if (pool < 0 || pool >= static_cast<int>(s_->pools.size()))
    throw std::invalid_argument("partition " + std::to_string(pool) + " does not exist (there are " +
                                std::to_string(s_->pools.size()) + ")");
  const int id = s_->next_run++;
  Run r;
  r.plan = std::move(plan);
  r.pool = pool;
  r.dispatch = dispatch;
  r.record = record_kernels;
  r.timing.issue_s = std::max(issue_s, s_->now);
  s_->schedule_next(r);
  if (r.plan->kernels.empty()) r.next_ready = r.timing.issue_s;
  s_->runs.emplace(id, std::move(r));
  return id;
}

double Engine::now() const { return s_->now; }
std::optional<int> Engine::run_until(double until_s) { return s_->step(until_s); }

RunTiming Engine::take_result(int run) {
  auto it = s_->results.find(run);
  if (it == s_->results.end()) throw std::invalid_argument("run " + std::to_string(run) + " has not completed");
  RunTiming t = std::move(it->second);
  s_->results.erase(it);
  return t;
}

bool Engine::idle() const { return s_->runs.empty() && s_->completed.empty(); }
uint64_t Engine::events() const { return s_->events; }

}  // namespace dstack::sim
