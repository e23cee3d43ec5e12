#include "runtime/sim/engine.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <map>
#include <stdexcept>
#include <tuple>

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

// A run's timeline alone in a pool of some size, never throttled: computed once by the same engine
// (replay off) and reused by every such run.
struct Memo {
  std::shared_ptr<const SimPlan> plan;  // keeps the key's plan alive
  RunTiming timing;                     // issued at 0, every kernel recorded (kernel i at index i)
  std::vector<double> peak;             // per kernel: the most DRAM bytes/s it asks at any moment
  double run_peak = 0;
  std::vector<double> peak_from;        // per kernel j: the most any kernel from j on asks
  // Per kernel j: the least, over kernels from j on, of how far its stream predecessor's end plus
  // the gap is past its launch's issue (>= 0: from j on every kernel waits for its predecessor, so a
  // delayed run's remainder is this timeline shifted).
  std::vector<double> min_slack;
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
  // Replay: the cached timeline (fast mode, non-empty plan), whether the run is being replayed now
  // (no kernel-level state: it completes at replay_end), and whether it ever shared its pool.
  const Memo* memo = nullptr;
  bool replayed = false;
  bool solo = true;
  double replay_end = kInf;
  double replay_base = 0;       // the cached timeline's time 0 (issue_s, later than it after a delay)
  std::size_t replay_from = 0;  // first kernel replayed (earlier ones were simulated)
  std::size_t cursor = 0;       // first cached kernel not ended before now
  double bound_used = 0;        // simulated: the demand bound the last check assumed for it
};

}  // namespace

struct Engine::State {
  std::shared_ptr<const DeviceSpec> device_own;  // shared with the engines that compute memos
  const DeviceSpec& device;
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
  // Replay (engine.h).
  bool replay_on = true;
  bool profiling = false;            // a memo's engine: records per-kernel peak demand
  std::vector<double> kernel_peak;   // when profiling, per plan kernel
  std::map<std::tuple<const SimPlan*, int, int>, Memo> memos;
  double check_at = kInf;            // first instant the replayed runs' overlay may exceed the bandwidth
  std::vector<int> check_runs;       // the replayed runs that fall back to events then
  std::vector<double> chk_bound;     // scratch for the check
  std::vector<char> chk_shared;
  std::vector<std::pair<int, Run*>> chk_rep;
  bool check_dirty = false;          // demand may have grown: check again before the next event
  bool check_stale = false;          // demand only shrank: check_at is early at worst; check again then
  uint64_t replayed = 0, materialized = 0;

  State(std::shared_ptr<const DeviceSpec> d, SimMode m)
      : device_own(std::move(d)), device(*device_own), mode(m), group_of_sm(device.sm_count, -1) {}

  // ---- lanes and kernels ---------------------------------------------------------------------
  double work_done(const Lane& l) const { return l.v_at + l.rate * (now - l.t_at); }
  double finish_time(const Lane& l) const { return l.t_at + (l.entries.front().finish_v - l.v_at) / l.rate; }

  int alloc_lane() {
    int id;
    if (!free_lanes.empty()) {
      id = free_lanes.back();
      free_lanes.pop_back();
    } else {
      id = static_cast<int>(lanes.size());
      lanes.emplace_back();
    }
    return id;
  }

  int alloc_active() {
    int id;
    if (!free_actives.empty()) {
      id = free_actives.back();
      free_actives.pop_back();
    } else {
      id = static_cast<int>(actives.size());
      actives.emplace_back();
    }
    return id;
  }

  int lane_for(Active& a, int group_index_in_pool) {
    int& id = a.lane_of[group_index_in_pool];
    if (id >= 0) return id;
    id = alloc_lane();
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
    const int id = alloc_active();
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
      if (r.memo && r.solo) {
        // Its bound is the next kernel's peak.
        if (r.memo->peak[r.next] > r.bound_used) check_dirty = true;
        else check_stale = true;
        try_resume(a.run, r);
      }
    } else {
      r.timing.end_s = now;
      completed.push_back(a.run);
      check_stale = true;
    }
  }

  // ---- replay --------------------------------------------------------------------------------
  int add_fast_pool(int sms) {
    Group g;
    g.sms = sms;
    g.pool = static_cast<int>(pools.size());
    Pool p;
    p.sms = sms;
    p.groups.push_back(static_cast<int>(groups.size()));
    groups.push_back(g);
    pools.push_back(std::move(p));
    return static_cast<int>(pools.size()) - 1;
  }

  int new_run(std::shared_ptr<const SimPlan> plan, int pool, DispatchMode dispatch, double issue_s, bool record) {
    const int id = next_run++;
    Run r;
    r.plan = std::move(plan);
    r.pool = pool;
    r.dispatch = dispatch;
    r.record = record;
    r.timing.issue_s = std::max(issue_s, now);
    schedule_next(r);
    if (r.plan->kernels.empty()) r.next_ready = r.timing.issue_s;
    Run& in = runs.emplace(id, std::move(r)).first->second;
    if (replay_on && mode == SimMode::fast && !in.plan->kernels.empty()) start_replay(id, in);
    return id;
  }

  const Memo& memo_for(const std::shared_ptr<const SimPlan>& plan, int sms, DispatchMode dispatch) {
    const auto key = std::make_tuple(plan.get(), sms, static_cast<int>(dispatch));
    if (auto it = memos.find(key); it != memos.end()) return it->second;
    State sc(device_own, SimMode::fast);
    sc.replay_on = false;
    sc.profiling = true;
    sc.kernel_peak.assign(plan->kernels.size(), 0.0);
    const int id = sc.new_run(plan, sc.add_fast_pool(sms), dispatch, 0.0, /*record=*/true);
    sc.step(kInf);
    Memo m;
    m.plan = plan;
    m.timing = std::move(sc.results.at(id));
    m.peak = std::move(sc.kernel_peak);
    for (double p : m.peak) m.run_peak = std::max(m.run_peak, p);
    const std::size_t n = plan->kernels.size();
    m.peak_from.assign(n + 1, 0.0);
    for (std::size_t j = n; j-- > 0;) m.peak_from[j] = std::max(m.peak_from[j + 1], m.peak[j]);
    m.min_slack.assign(n + 1, kInf);
    {
      Run probe;
      probe.dispatch = dispatch;
      for (std::size_t j = n; j-- > 1;) {
        probe.next = j;
        probe.prev_end = -kInf;
        sc.schedule_next(probe);  // the launch's issue alone (timeline issued at 0)
        const double gap = (dispatch == DispatchMode::graph ? device.timing.graph_kernel_gap_us
                                                            : device.timing.kernel_gap_us) * 1e-6;
        m.min_slack[j] = std::min(m.min_slack[j + 1], m.timing.kernels[j - 1].end_s + gap - probe.next_ready);
      }
    }
    return memos.emplace(key, std::move(m)).first->second;
  }

  bool pool_alone(int id, int pool) const {
    for (const auto& [oid, o] : runs)
      if (oid != id && o.pool == pool) return false;
    return true;
  }

  // A simulated run between kernels, alone in its pool, whose remaining kernels each wait for their
  // predecessor: its remainder is the cached timeline shifted, so it is replayed from here.
  void try_resume(int id, Run& r) {
    if (!r.solo || r.active >= 0 || !pool_alone(id, r.pool)) return;
    const Memo& m = *r.memo;
    const std::size_t i = r.next;  // kernel i - 1 just ended
    if (i == 0 || i >= m.timing.kernels.size()) return;
    const double base = r.prev_end - m.timing.kernels[i - 1].end_s;
    if (m.min_slack[i] < 0 || base - r.timing.issue_s + m.min_slack[i] < 0) return;
    r.replayed = true;
    r.replay_base = base;
    r.replay_from = i;
    r.cursor = i;
    r.replay_end = base + m.timing.end_s;
    r.next_ready = kInf;
    check_dirty = true;
    ++replayed;
  }

  // A new run: replayed when alone in its pool; a replayed run already there falls back to events.
  void start_replay(int id, Run& r) {
    r.memo = &memo_for(r.plan, pools[r.pool].sms, r.dispatch);
    bool alone = true;
    for (auto& [oid, o] : runs) {
      if (oid == id || o.pool != r.pool) continue;
      alone = false;
      o.solo = false;
      if (o.replayed) materialize(oid, o);
    }
    r.solo = alone;
    if (alone) {
      r.replayed = true;
      r.replay_base = r.timing.issue_s;
      r.replay_from = 0;
      r.replay_end = r.timing.issue_s + r.memo->timing.end_s;
      r.next_ready = kInf;
      r.cursor = 0;
      ++replayed;
    }
    check_dirty = true;
  }

  // Appends cached kernels [from, to) shifted by `shift` to the run's record.
  void record_cached(Run& r, std::size_t from, std::size_t to, double shift) {
    if (!r.record) return;
    const auto& ks = r.memo->timing.kernels;
    for (std::size_t j = from; j < to; ++j) {
      KernelTiming k = ks[j];
      k.ready_s += shift;
      k.start_s += shift;
      k.end_s += shift;
      r.timing.kernels.push_back(k);
    }
  }

  void finish_replayed(int id, Run& r) {
    const Memo& m = *r.memo;
    if (r.replay_from == 0) r.timing.start_s = m.timing.start_s + r.replay_base;
    r.timing.end_s = r.replay_end;
    record_cached(r, r.replay_from, m.timing.kernels.size(), r.replay_base);
    r.replayed = false;
    r.started = true;
    r.next = r.plan->kernels.size();
    r.next_ready = kInf;
    completed.push_back(id);
    check_stale = true;
  }

  // The replayed run's kernel-level state at `now`: the run re-simulated alone in a pool of its size
  // up to now (what it was, since nothing throttled it), copied into this engine.
  // Only the kernel in flight (or next) is re-simulated: before it the run's pool is empty.
  void materialize(int id, Run& r) {
    const Memo& m = *r.memo;
    const auto& ks = m.timing.kernels;
    const double shift = r.replay_base;
    const double elapsed = now - shift;
    std::size_t k = std::max(r.cursor, r.replay_from);
    while (k < ks.size() && ks[k].end_s <= elapsed) ++k;
    ++materialized;
    check_dirty = true;
    if (k >= ks.size()) {  // ended within rounding of now
      finish_replayed(id, r);
      return;
    }
    State sc(device_own, SimMode::fast);
    sc.replay_on = false;
    const int sid = sc.new_run(r.plan, sc.add_fast_pool(pools[r.pool].sms), r.dispatch, 0.0, r.record);
    {
      Run& s0 = sc.runs.at(sid);
      s0.next = k;
      s0.prev_end = k > 0 ? ks[k - 1].end_s : -kInf;
      s0.started = k > 0;
      s0.timing.start_s = m.timing.start_s;
      sc.schedule_next(s0);
    }
    const auto done_id = sc.step(elapsed);
    if (done_id) {
      finish_replayed(id, r);
      return;
    }
    record_cached(r, r.replay_from, k, shift);
    r.replayed = false;
    const Run& s = sc.runs.at(sid);
    r.next = s.next;
    r.next_ready = s.next_ready + shift;
    r.prev_end = s.prev_end + shift;
    if (!r.started && s.started) r.timing.start_s = s.timing.start_s + shift;
    r.started = s.started;
    if (r.record)
      for (KernelTiming kt : s.timing.kernels) {
        kt.ready_s += shift;
        kt.start_s += shift;
        kt.end_s += shift;
        r.timing.kernels.push_back(kt);
      }
    r.active = -1;
    if (s.active < 0) return;
    const Active& sa = sc.actives[s.active];
    const int aid = alloc_active();
    Active& a = actives[aid];
    a = sa;
    a.run = id;
    a.pool = r.pool;
    a.ready += shift;
    if (a.start >= 0) a.start += shift;
    a.lane_of.assign(1, -1);
    Group& g = groups[pools[r.pool].groups[0]];
    if (sa.lane_of[0] >= 0) {
      const int lid = alloc_lane();
      Lane& l = lanes[lid];
      l = sc.lanes[sa.lane_of[0]];
      l.kernel = aid;
      l.group = pools[r.pool].groups[0];
      l.t_at += shift;
      g.lanes.push_back(lid);
      a.lane_of[0] = lid;
    }
    g.used = sc.groups[0].used;
    g.warps = sc.groups[0].warps;
    pools[r.pool].queue.push_back(aid);
    r.active = aid;
  }

  // The first instant >= now at which the replayed runs' cached per-kernel peak demands, plus a bound
  // on every pool simulated by events (its run's own peak when alone, else its SMs' DRAM ports),
  // could exceed the device's bandwidth; kInf when never.
  void update_check() {
    check_dirty = check_stale = false;
    check_at = kInf;
    check_runs.clear();
    const double cap = device.dram_bytes_per_s() * (1 - 1e-9);
    std::vector<double>& pool_bound = chk_bound;
    std::vector<char>& pool_shared = chk_shared;
    std::vector<std::pair<int, Run*>>& rep = chk_rep;
    pool_bound.assign(pools.size(), 0.0);
    pool_shared.assign(pools.size(), 0);
    rep.clear();
    double peaks = 0;
    for (auto& [id, r] : runs) {
      if (r.replayed) {
        rep.emplace_back(id, &r);
        peaks += r.memo->peak_from[std::max(r.cursor, r.replay_from)];
        continue;
      }
      if (r.next >= r.plan->kernels.size()) continue;  // completed
      // Alone in its pool since it started, a run asks at most its current (or next) kernel's
      // peak until that kernel ends (which brings the check up to date).
      if (!r.solo || !r.memo) {
        pool_shared[r.pool] = 1;
      } else {
        r.bound_used = r.memo->peak[r.next];
        pool_bound[r.pool] += r.bound_used;
      }
    }
    if (rep.empty()) return;
    double fixed = 0;
    for (std::size_t p = 0; p < pools.size(); ++p)
      fixed += pool_shared[p] ? static_cast<double>(pools[p].sms) * device.sm_dram_bytes_per_s() : pool_bound[p];
    if (fixed + peaks <= cap) return;
    // Sweep the replayed runs' kernels from now on: a kernel asks its peak over [start, end).
    struct Cur {
      int id;
      const Run* r;
      std::size_t k;
      bool in;
      double t = kInf;  // its next boundary: kernel k's end when in, else its start
    };
    std::vector<Cur> cs;
    for (auto [id, r] : rep) {
      const auto& ks = r->memo->timing.kernels;
      const double t0 = r->replay_base;
      while (r->cursor < ks.size() && t0 + ks[r->cursor].end_s <= now) ++r->cursor;
      if (r->cursor < ks.size()) cs.push_back(Cur{id, r, r->cursor, t0 + ks[r->cursor].start_s <= now});
    }
    auto next_t = [](Cur& c) {
      const auto& ks = c.r->memo->timing.kernels;
      c.t = c.k >= ks.size() ? kInf : c.r->replay_base + (c.in ? ks[c.k].end_s : ks[c.k].start_s);
    };
    for (Cur& c : cs) next_t(c);
    // The runs asking bandwidth at the instant found fall back to events then.
    auto mark = [&] {
      for (const Cur& c : cs)
        if (c.in) check_runs.push_back(c.id);
    };
    auto level = [&] {
      double sum = fixed;
      for (const Cur& c : cs)
        if (c.in) sum += c.r->memo->peak[c.k];
      return sum;
    };
    bool any_in = false;
    for (const Cur& c : cs) any_in |= c.in;
    if (any_in && level() > cap) {
      check_at = now;
      mark();
      return;
    }
    // At most this many kernel boundaries per check (anything that changes the running set checks
    // again); past them, a re-check at that instant.
    int budget = 64;
    while (true) {
      int best = -1;
      double bt = kInf;
      for (std::size_t i = 0; i < cs.size(); ++i) {
        const Cur& c = cs[i];
        const double t = c.t;
        if (t == kInf) continue;
        // Ends before starts at one instant (a kernel's interval is half-open).
        if (best < 0 || t < bt || (t == bt && c.in && !cs[best].in)) {
          best = static_cast<int>(i);
          bt = t;
        }
      }
      if (best < 0) return;
      if (--budget < 0) {
        check_at = std::max(bt, now);  // check_runs empty: only re-checks
        return;
      }
      Cur& c = cs[best];
      if (c.in) {
        c.in = false;
        ++c.k;
        next_t(c);
      } else {
        c.in = true;
        next_t(c);
        if (level() > cap) {
          check_at = std::max(bt, now);
          mark();
          return;
        }
      }
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
    if (profiling)
      for (std::size_t i = 0; i < kernel_ids.size(); ++i) {
        double& p = kernel_peak[actives[kernel_ids[i]].index];
        p = std::max(p, demand[i]);
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
    if (replay_on) {
      for (auto& [id, r] : runs)
        if (r.replayed && r.replay_end <= now) finish_replayed(id, r);
      if (check_at <= now && check_stale && !check_dirty) update_check();
      if (check_at <= now) {
        for (int id : check_runs) {
          Run& r = runs.at(id);
          if (r.replayed) materialize(id, r);
        }
        check_runs.clear();
        check_dirty = true;
      }
    }
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
        check_stale = true;
        return id;
      }
      if (check_dirty) update_check();
      double t_next = check_at;
      for (const Lane& l : lanes)
        if (l.live && l.rate > 0) t_next = std::min(t_next, finish_time(l));
      for (const auto& [id, r] : runs) {
        if (r.active < 0) t_next = std::min(t_next, r.next_ready);
        if (r.replayed) t_next = std::min(t_next, r.replay_end);
      }
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

Engine::Engine(const DeviceSpec& device, SimMode mode) : s_(std::make_unique<State>(std::make_shared<const DeviceSpec>(device), mode)) {}
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
  return s_->new_run(std::move(plan), pool, dispatch, issue_s, record_kernels);
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

void Engine::set_replay(bool on) {
  if (!idle()) throw std::logic_error("the simulated GPU has work in flight; switch replay while idle");
  s_->replay_on = on;
}
bool Engine::replay() const { return s_->replay_on && s_->mode == SimMode::fast; }
uint64_t Engine::replayed_runs() const { return s_->replayed; }
uint64_t Engine::materialized_runs() const { return s_->materialized; }

}  // namespace dstack::sim
