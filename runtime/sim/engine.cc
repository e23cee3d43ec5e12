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
// Segments per chunk of a cached timeline: the overlay check bounds a chunk by its peak first.
constexpr std::size_t kChunk = 8;

// Blocks dispatched together on a lane; they finish together when the lane's work counter reaches
// finish_v (every block is one unit of work).
struct Entry {
  double finish_v = 0;
  int64_t blocks = 0;    // blocks it completes
  int64_t resident = 0;  // of which resident at once (fewer for several identical waves in one entry)
  int per_sm = 0;     // block mode: blocks it holds on its SM
  double charge = 0;  // block mode: the same, as the SM's resource charge
};

// Fast mode: `count` blocks of one wave on every SM of [lo, hi) (indices within the pool).
struct Piece {
  int lo = 0, hi = 0;
  int count = 0;
};

// Fast mode: a run of a pool's SMs [lo, hi) holding the same load, so blocks fit and progress alike
// on each of them. A pool's spans cover it in SM order; a wave splits at most a few of them.
struct Span {
  int lo = 0, hi = 0;
  std::array<double, kSmResources> used{};  // per SM
  double warps = 0;                          // resident per SM
  int64_t blocks = 0;                        // resident per SM
};

// The blocks of one running kernel on one group, progressing at one rate so they finish in dispatch
// order. Block mode: its blocks on one SM. Fast mode: one wave (or several identical ones, one after
// the other) on its pool's SMs `pieces`; the wave's blocks finish together, at its busiest SM's pace.
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
  std::vector<Piece> pieces;  // fast mode
};

// What runs on SMs: one SM (block mode) or a whole pool (fast mode, whose load is in its spans).
struct Group {
  std::array<double, kSmResources> used{};  // block mode
  double warps = 0;                          // block mode: resident
  int sms = 1;
  int local = 0;  // index within its pool (block mode)
  int pool = -1;
  std::vector<int> lanes;
};

struct Pool {
  std::vector<int> groups;
  int sms = 0;
  std::vector<int> queue;  // active kernels in dispatch order (first come, first served)
  std::vector<Span> spans;  // fast mode
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
  std::vector<int> lane_of;      // block mode: per group of the pool; fast mode: its waves in flight
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
  // The timeline as segments over which nothing changes: segment i spans [seg_t[i], seg_t[i + 1])
  // (the last one up to the run's end) while its kernel (seg_k: the one running, or next after a
  // gap) asks seg_d bytes/s of DRAM with seg_w resident warps and got the share seg_f of it.
  std::vector<double> seg_t, seg_d, seg_w, seg_f;
  // Occupancy: seg_o SMs hold a block of it during segment i; seg_c is the occupied SM-seconds
  // before seg_t[i], so a replayed run's share of the counter is a lookup, not a walk.
  std::vector<double> seg_o, seg_c;
  std::vector<int> seg_k;
  std::vector<double> seg_peak_from;    // per segment i: the most any segment from i on asks
  std::vector<double> chunk_d;          // per kChunk segments: the most any of them asks
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
  std::size_t replay_from = 0;  // first kernel replayed (earlier ones were simulated)
  // Where it is on the cached timeline: pos_at + speed * (t - t_pos) at time t. The speed is 1 but
  // while the device's DRAM is oversubscribed (engine.h, fluid replay); seg: the segment there.
  double pos_at = 0, t_pos = 0, speed = 1;
  std::size_t seg = 0;
  bool slowed = false;  // ever below full speed
  double bound_used = 0;        // simulated: the demand bound the last check assumed for it
};

}  // namespace

struct Engine::State {
  std::shared_ptr<const DeviceSpec> device_own;  // shared with the engines that compute memos
  const DeviceSpec& device;
  SimMode mode;
  double now = 0;
  uint64_t events = 0;
  // SMs holding >= 1 resident block of a kernel simulated by events (replayed runs hold none here),
  // and the occupied SM-seconds up to now: this integral, plus the replayed runs' cached occupancy
  // up to their last re-anchoring (the rest is added lazily by occupied_sm_seconds()).
  int occupied = 0;
  double occupied_sm_s = 0;
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
  // Scratch for placing a wave (fast mode).
  std::vector<int> caps;
  std::vector<Piece> pieces;
  // Replay (engine.h).
  bool replay_on = true;
  bool profiling = false;            // a memo's engine: records per-kernel peak demand
  std::vector<double> kernel_peak;   // when profiling, per plan kernel
  std::map<std::tuple<const SimPlan*, int, int>, Memo> memos;
  double check_at = kInf;            // when to decide again how replayed runs go on (update_check)
  // While true, the replayed runs' summed demand may exceed the device's: they progress as fluids
  // at their bandwidth shares, and check_at is their next segment boundary.
  bool fluid = false;
  std::vector<double> chk_bound;     // scratch for the check
  std::vector<char> chk_shared;
  // A replayed run's place in sweep(). Boundary times as when() computes them at full speed, so a
  // boundary past now is past it for advance_segment too.
  struct Cursor {
    const double* seg_t;
    const double* seg_d;
    const double* chunk_d;
    std::size_t segs;
    double base;      // real time of cached time 0 (at full speed)
    std::size_t seg;  // the segment at the sweep's instant
    bool fine;        // walked segment by segment (else bounded by its chunk's peak)
    double next() const { return seg + 1 < segs ? base + seg_t[seg + 1] : kInf; }
    double chunk_peak() const { return chunk_d[seg / kChunk]; }
    double chunk_end() const {
      const std::size_t j = (seg / kChunk + 1) * kChunk;
      return j < segs ? base + seg_t[j] : kInf;
    }
    void advance(double t) {
      while (seg + 1 < segs && base + seg_t[seg + 1] <= t) ++seg;
    }
  };
  std::vector<Cursor> chk_cur;
  std::vector<Run*> rep_runs;        // scratch: the replayed runs, by id
  bool check_dirty = false;          // demand may have grown: check again before the next event
  uint64_t replayed = 0, materialized = 0, throttled = 0;
  Memo* profile = nullptr;           // a memo's engine: the segments it records

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
    if (groups[l.group].lanes.empty()) ++occupied;  // block mode: a group is one SM
    groups[l.group].lanes.push_back(id);
    return id;
  }

  // Block mode: one block on the pool's SM `group_index_in_pool`.
  void place_block(Active& a, int group_index_in_pool) {
    const int lid = lane_for(a, group_index_in_pool);
    Lane& l = lanes[lid];
    Group& g = groups[l.group];
    l.entries.push_back(Entry{work_done(l) + 1.0, 1, 1, 1, 1.0});
    l.per_sm += 1;
    l.charge += 1.0;
    l.resident += 1;
    for (int r = 0; r < kSmResources; ++r) g.used[r] += a.k->use[r];
    g.warps += a.k->warps;
    a.to_dispatch -= 1;
    a.resident += 1;
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
        place_block(a, i);
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

  // ---- fast mode: waves on spans ----------------------------------------------------------------
  // The index of the span that starts at SM `x` of the pool (spans.size() for its end), splitting
  // the span holding it.
  static std::size_t split_at(std::vector<Span>& spans, int x) {
    auto it = std::upper_bound(spans.begin(), spans.end(), x, [](int v, const Span& sp) { return v < sp.lo; });
    const std::size_t i = static_cast<std::size_t>(it - spans.begin()) - 1;
    if (spans[i].lo == x) return i;
    if (spans[i].hi == x) return i + 1;
    Span right = spans[i];
    right.lo = x;
    spans[i].hi = x;
    spans.insert(spans.begin() + static_cast<std::ptrdiff_t>(i) + 1, right);
    return i + 1;
  }

  static bool same_load(const Span& a, const Span& b) {
    if (a.blocks != b.blocks || std::abs(a.warps - b.warps) > 1e-9) return false;
    for (int r = 0; r < kSmResources; ++r)
      if (std::abs(a.used[r] - b.used[r]) > 1e-12) return false;
    return true;
  }

  // Adds (sign 1) or removes (-1) a piece's blocks of `k` on its SMs, then joins neighbours left alike.
  // Returns the change in SMs holding a block (the occupancy counter's input).
  static int load(std::vector<Span>& spans, const Piece& pc, const SimKernel& k, int sign) {
    const std::size_t first = split_at(spans, pc.lo);
    const std::size_t last = split_at(spans, pc.hi);
    int occupied_delta = 0;
    for (std::size_t i = first; i < last; ++i) {
      Span& sp = spans[i];
      const bool was = sp.blocks > 0;
      sp.blocks += sign * pc.count;
      occupied_delta += (static_cast<int>(sp.blocks > 0) - static_cast<int>(was)) * (sp.hi - sp.lo);
      if (sp.blocks == 0) {  // drop accumulated rounding
        sp.used.fill(0);
        sp.warps = 0;
        continue;
      }
      for (int r = 0; r < kSmResources; ++r) sp.used[r] += sign * pc.count * k.use[r];
      sp.warps += sign * pc.count * k.warps;
    }
    std::size_t out = 0;
    for (std::size_t i = 1; i < spans.size(); ++i) {
      if (same_load(spans[out], spans[i])) spans[out].hi = spans[i].hi;
      else spans[++out] = spans[i];
    }
    spans.resize(out + 1);
    return occupied_delta;
  }

  static int occupied_in(const std::vector<Span>& spans) {
    int n = 0;
    for (const Span& sp : spans)
      if (sp.blocks > 0) n += sp.hi - sp.lo;
    return n;
  }

  // The most warps resident on any SM a wave occupies: its blocks there are the slowest.
  double busiest_warps(const Lane& l) const {
    const std::vector<Span>& spans = pools[groups[l.group].pool].spans;
    double most = 0;
    for (const Piece& pc : l.pieces) {
      auto it = std::upper_bound(spans.begin(), spans.end(), pc.lo, [](int v, const Span& sp) { return v < sp.lo; }) - 1;
      for (; it != spans.end() && it->lo < pc.hi; ++it) most = std::max(most, it->warps);
    }
    return most;
  }

  // `waves` identical waves of `resident` blocks each (`blocks` in all) on `pieces` as one lane.
  void place_wave(Active& a, int64_t blocks, int64_t resident, int64_t waves) {
    Pool& p = pools[a.pool];
    const int lid = alloc_lane();
    Lane& l = lanes[lid];
    l.entries.clear();
    l.pieces.assign(pieces.begin(), pieces.end());
    l.kernel = static_cast<int>(&a - actives.data());
    l.group = p.groups[0];
    l.v_at = 0;
    l.t_at = now;
    l.rate = l.speed = l.demand = 0;
    l.per_sm = 0;
    l.charge = 0;
    l.resident = resident;
    l.live = true;
    l.entries.push_back(Entry{static_cast<double>(waves), blocks, resident, 0, 0.0});
    groups[l.group].lanes.push_back(lid);
    a.lane_of.push_back(lid);
    int sms = 0;
    for (const Piece& pc : pieces) {
      occupied += load(p.spans, pc, *a.k, 1);
      sms += pc.hi - pc.lo;
    }
    a.to_dispatch -= blocks;
    a.resident += resident;
    a.max_resident = static_cast<int>(std::max<int64_t>(a.max_resident, a.resident));
    a.sms_used = std::max(a.sms_used, sms);
    a.waves += waves;
    if (a.start < 0) a.start = now;
  }

  // Fast mode: a wave of as many blocks as fit now, placed where block mode's scheduler places them
  // (round after round, one block on every SM with room, in SM order), counted per span of SMs alike
  // instead of block by block. Blocks of other streams' kernels hold their own SMs, so a tail wave
  // on a few SMs leaves the rest to others and shares its SMs' rate with what they hold.
  bool dispatch_wave(Active& a) {
    const Pool& p = pools[a.pool];
    caps.clear();
    int64_t room = 0;
    int most = 0;
    for (const Span& sp : p.spans) {
      const int c = blocks_that_fit(*a.k, sp.used);
      caps.push_back(c);
      room += static_cast<int64_t>(c) * (sp.hi - sp.lo);
      most = std::max(most, c);
    }
    if (room == 0) return false;
    pieces.clear();
    // Alone in its pool, the full waves before the last one are identical and nothing else can
    // dispatch meanwhile (first come, first served; blocks remain): one lane for all of them.
    if (groups[p.groups[0]].lanes.empty() && a.to_dispatch > 2 * room) {
      const int64_t k = (a.to_dispatch - 1) / room - 1;
      if (k >= 2) {
        pieces.push_back(Piece{0, p.sms, most});
        place_wave(a, k * room, room, k);
        return false;
      }
    }
    const int64_t n = std::min(a.to_dispatch, room);
    plan_rounds(p, n, most);
    place_wave(a, n, n, 1);
    return a.to_dispatch == 0;
  }

  // Fills `pieces` with `n` blocks placed in rounds: the full rounds reach every SM with room left,
  // the last (partial) one the first SMs in order.
  void plan_rounds(const Pool& p, int64_t n, int most) {
    auto reach = [&](int rounds) {
      int64_t total = 0;
      for (std::size_t i = 0; i < p.spans.size(); ++i)
        total += static_cast<int64_t>(std::min(caps[i], rounds)) * (p.spans[i].hi - p.spans[i].lo);
      return total;
    };
    int full = 0, over = most + 1;  // reach(full) <= n < reach(over), or full == most
    while (over - full > 1) {
      const int mid = full + (over - full) / 2;
      (reach(mid) <= n ? full : over) = mid;
    }
    int64_t extra = n - reach(full);
    auto add = [&](int lo, int hi, int count) {
      if (count <= 0 || lo >= hi) return;
      if (!pieces.empty() && pieces.back().hi == lo && pieces.back().count == count) pieces.back().hi = hi;
      else pieces.push_back(Piece{lo, hi, count});
    };
    for (std::size_t i = 0; i < p.spans.size(); ++i) {
      const Span& sp = p.spans[i];
      const int base = std::min(caps[i], full);
      const int take = caps[i] > full ? static_cast<int>(std::min<int64_t>(extra, sp.hi - sp.lo)) : 0;
      extra -= take;
      add(sp.lo, sp.lo + take, base + 1);
      add(sp.lo + take, sp.hi, base);
    }
  }

  void finish_wave(int lid) {
    Lane& l = lanes[lid];
    Active& a = actives[l.kernel];
    Pool& p = pools[a.pool];
    const Entry& e = l.entries.front();
    for (const Piece& pc : l.pieces) occupied += load(p.spans, pc, *a.k, -1);
    a.resident -= e.resident;
    a.unfinished -= e.blocks;
    p.dirty = true;
    l.entries.clear();
    release_lane(lid);
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
      if (mode == SimMode::block) --occupied;
    }
    Active& a = actives[l.kernel];
    if (mode == SimMode::block) a.lane_of[groups[l.group].local] = -1;
    else a.lane_of.erase(std::find(a.lane_of.begin(), a.lane_of.end(), lid));
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
    if (mode == SimMode::block) {
      a.lane_of.assign(pools[r.pool].sms, -1);
      a.touched.assign(pools[r.pool].sms, 0);
    }
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
        try_resume(a.run, r);
      }
    } else {
      r.timing.end_s = now;
      completed.push_back(a.run);
    }
  }

  // ---- replay --------------------------------------------------------------------------------
  int add_fast_pool(int sms) {
    Group g;
    g.sms = sms;
    g.pool = static_cast<int>(pools.size());
    Pool p;
    p.sms = sms;
    p.spans.push_back(Span{0, sms, {}, 0, 0});
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
    Memo m;
    m.seg_t = {0.0};
    m.seg_d = {0.0};
    m.seg_w = {0.0};
    m.seg_f = {1.0};
    m.seg_o = {0.0};
    m.seg_k = {0};
    State sc(device_own, SimMode::fast);
    sc.replay_on = false;
    sc.profiling = true;
    sc.profile = &m;
    sc.kernel_peak.assign(plan->kernels.size(), 0.0);
    const int id = sc.new_run(plan, sc.add_fast_pool(sms), dispatch, 0.0, /*record=*/true);
    sc.step(kInf);
    m.plan = plan;
    m.timing = std::move(sc.results.at(id));
    m.peak = std::move(sc.kernel_peak);
    m.seg_c.assign(m.seg_t.size(), 0.0);
    for (std::size_t j = 1; j < m.seg_t.size(); ++j)
      m.seg_c[j] = m.seg_c[j - 1] + m.seg_o[j - 1] * (m.seg_t[j] - m.seg_t[j - 1]);
    const std::size_t n = plan->kernels.size();
    m.seg_peak_from.assign(m.seg_d.size() + 1, 0.0);
    for (std::size_t j = m.seg_d.size(); j-- > 0;) m.seg_peak_from[j] = std::max(m.seg_peak_from[j + 1], m.seg_d[j]);
    m.chunk_d.assign((m.seg_d.size() + kChunk - 1) / kChunk, 0.0);
    for (std::size_t j = 0; j < m.seg_d.size(); ++j) m.chunk_d[j / kChunk] = std::max(m.chunk_d[j / kChunk], m.seg_d[j]);
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

  // A memo's engine, after each event: the segment of the run's timeline that starts now.
  void record_segment() {
    Memo& m = *profile;
    double d = 0, w = 0, f = 1;
    const double o = occupied;
    int k = m.seg_k.back();
    if (!kernel_ids.empty()) {
      d = demand[0];
      w = weight[0];
      f = factor[0];
      k = actives[kernel_ids[0]].index;
    } else if (!runs.empty()) {
      k = static_cast<int>(runs.begin()->second.next);
    }
    if (m.seg_t.back() != now) {
      if (d == m.seg_d.back() && w == m.seg_w.back() && f == m.seg_f.back() && o == m.seg_o.back() &&
          k == m.seg_k.back())
        return;
      m.seg_t.push_back(now);
      m.seg_d.push_back(d);
      m.seg_w.push_back(w);
      m.seg_f.push_back(f);
      m.seg_o.push_back(o);
      m.seg_k.push_back(k);
      return;
    }
    m.seg_d.back() = d;
    m.seg_w.back() = w;
    m.seg_f.back() = f;
    m.seg_o.back() = o;
    m.seg_k.back() = k;
  }

  bool pool_alone(int id, int pool) const {
    for (const auto& [oid, o] : runs)
      if (oid != id && o.pool == pool) return false;
    return true;
  }

  // ---- replayed runs on their cached timelines --------------------------------------------------
  double position(const Run& r) const { return r.pos_at + r.speed * (now - r.t_pos); }
  // When the replayed run reaches cached time `p` at its present speed (at full speed, a shift: the
  // sweep computes the same sums).
  static double when(const Run& r, double p) {
    return r.speed == 1 ? (r.t_pos - r.pos_at) + p : r.t_pos + (p - r.pos_at) / r.speed;
  }

  // The segment of a memo's timeline holding cached time `p` (the first one before its issue).
  static std::size_t segment_at(const Memo& m, double p) {
    const auto after = std::upper_bound(m.seg_t.begin(), m.seg_t.end(), p);
    return after == m.seg_t.begin() ? 0 : static_cast<std::size_t>(after - m.seg_t.begin()) - 1;
  }

  // Occupied SM-seconds of a memo's timeline over cached time [0, p) (none before its issue).
  static double cached_occupied(const Memo& m, double p) {
    if (p <= 0) return 0;
    const std::size_t i = segment_at(m, p);
    return m.seg_c[i] + m.seg_o[i] * (p - m.seg_t[i]);
  }

  // A replayed run's occupied SM-seconds from its anchor (t_pos) to now. Stretched by DRAM
  // contention, its blocks stay resident for the stretched time: cached SM-seconds over its speed.
  double replayed_occupied(const Run& r) const {
    const Memo& m = *r.memo;
    if (r.speed <= 0) return m.seg_o[segment_at(m, r.pos_at)] * (now - r.t_pos);  // stalled, still resident
    const double p = std::min(position(r), m.timing.end_s);
    return (cached_occupied(m, p) - cached_occupied(m, r.pos_at)) / r.speed;
  }

  // Before a replayed run is re-anchored or leaves replay: its occupancy so far joins the counter.
  void settle_occupied(const Run& r) { occupied_sm_s += replayed_occupied(r); }

  double occupied_sm_seconds() const {
    double total = occupied_sm_s;
    for (const auto& [id, r] : runs)
      if (r.replayed) total += replayed_occupied(r);
    return total;
  }

  // Starts (or resumes) replaying `r` at cached time `p`, now, at full speed.
  void begin_replay(Run& r, double p) {
    const auto& seg_t = r.memo->seg_t;
    r.replayed = true;
    r.pos_at = p;
    r.t_pos = now;
    r.speed = 1;
    const auto after = std::upper_bound(seg_t.begin(), seg_t.end(), p);  // p < 0 before its issue
    r.seg = after == seg_t.begin() ? 0 : static_cast<std::size_t>(after - seg_t.begin()) - 1;
    r.replay_end = when(r, r.memo->timing.end_s);
    r.next_ready = kInf;
    check_dirty = true;
    ++replayed;
  }

  // Moves the run's segment to the one holding now.
  void advance_segment(Run& r) const {
    const auto& seg_t = r.memo->seg_t;
    while (r.seg + 1 < seg_t.size() && when(r, seg_t[r.seg + 1]) <= now) ++r.seg;
  }

  // Re-anchors the run at now with a new speed.
  void set_speed(Run& r, double speed) {
    settle_occupied(r);
    const double p = position(r);
    r.pos_at = r.seg > 0 ? std::max(p, r.memo->seg_t[r.seg]) : p;  // not before its segment by rounding
    r.t_pos = now;
    r.speed = speed;
    r.replay_end = when(r, r.memo->timing.end_s);
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
    r.replay_from = i;
    begin_replay(r, now - base);
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
      r.replay_from = 0;
      // Nothing asks DRAM before its first kernel starts, so nothing slows it until then.
      r.timing.start_s = r.timing.issue_s + r.memo->timing.start_s;
      begin_replay(r, now - r.timing.issue_s);
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

  // A recorded run is never slowed in replay (fluid mode materializes it), so its cached kernels
  // are shifted by the one offset.
  void finish_replayed(int id, Run& r) {
    const Memo& m = *r.memo;
    settle_occupied(r);
    r.timing.end_s = r.replay_end;
    record_cached(r, r.replay_from, m.timing.kernels.size(), r.t_pos - r.pos_at);
    r.replayed = false;
    r.started = true;
    r.next = r.plan->kernels.size();
    r.next_ready = kInf;
    completed.push_back(id);
  }

  // The replayed run's kernel-level state at `now`: the run re-simulated alone in a pool of its size
  // up to where it is on its timeline (what it was, but for a delay when it was slowed: slowed
  // runs wait for their predecessors, so the delay is a shift), copied into this engine.
  // Only the kernel in flight (or next) is re-simulated: before it the run's pool is empty.
  void materialize(int id, Run& r) {
    const Memo& m = *r.memo;
    const auto& ks = m.timing.kernels;
    const double elapsed = position(r);
    const double shift = now - elapsed;
    std::size_t k = std::max(static_cast<std::size_t>(m.seg_k[r.seg]), r.replay_from);
    while (k > r.replay_from && ks[k - 1].end_s > elapsed) --k;
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
    settle_occupied(r);
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
    a.lane_of.clear();
    Group& g = groups[pools[r.pool].groups[0]];
    for (int slid : sa.lane_of) {
      const int lid = alloc_lane();
      Lane& l = lanes[lid];
      l = sc.lanes[slid];
      l.kernel = aid;
      l.group = pools[r.pool].groups[0];
      l.t_at += shift;
      g.lanes.push_back(lid);
      a.lane_of.push_back(lid);
    }
    occupied += occupied_in(sc.pools[0].spans) - occupied_in(pools[r.pool].spans);
    pools[r.pool].spans = sc.pools[0].spans;
    pools[r.pool].queue.push_back(aid);
    r.active = aid;
  }

  // Whether a replayed run may be slowed and stay replayed: not when its kernels are recorded
  // (one shift for all), nor when a later kernel of it waits for its launch rather than for its
  // predecessor (a delay would then not be a shift).
  bool may_slow(const Run& r) const {
    const Memo& m = *r.memo;
    const std::size_t k = static_cast<std::size_t>(m.seg_k[r.seg]);
    const double delay = now - position(r) - r.timing.issue_s;
    return !r.record && m.min_slack[std::min(k + 1, m.min_slack.size() - 1)] + delay >= 0;
  }

  // Decides how the replayed runs go on from now: at full speed until the first instant their
  // cached segments' demands, plus a bound for every pool simulated by events (its run's current
  // kernel's peak when alone, else its SMs' DRAM ports), could exceed the device's bandwidth
  // (check_at), or, when that is now, as fluids (process and recompute_rates step them).
  void update_check() {
    check_dirty = false;
    check_at = kInf;
    const double cap = device.dram_bytes_per_s() * (1 - 1e-9);
    std::vector<double>& pool_bound = chk_bound;
    std::vector<char>& pool_shared = chk_shared;
    pool_bound.assign(pools.size(), 0.0);
    pool_shared.assign(pools.size(), 0);
    rep_runs.clear();
    for (auto& [id, r] : runs) {
      if (r.replayed) {
        advance_segment(r);
        rep_runs.push_back(&r);
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
    double fixed = 0;
    for (std::size_t p = 0; p < pools.size(); ++p)
      fixed += pool_shared[p] ? static_cast<double>(pools[p].sms) * device.sm_dram_bytes_per_s() : pool_bound[p];
    double now_level = fixed, peaks = fixed;
    for (const Run* r : rep_runs) {
      now_level += r->memo->seg_d[r->seg];
      peaks += r->memo->seg_peak_from[r->seg];
    }
    if (now_level > cap && !rep_runs.empty()) {
      enter_fluid();
      return;
    }
    fluid = false;
    for (Run* r : rep_runs)
      if (r->speed != 1) set_speed(*r, 1.0);
    if (rep_runs.empty() || peaks <= cap) return;
    sweep(fixed, cap);
  }

  // The replayed runs may be slowed from now on; those that may not fall back to events.
  void enter_fluid() {
    fluid = true;
    check_at = now;  // recompute_rates sets their next boundary
    for (auto& [id, r] : runs)
      if (r.replayed && !may_slow(r)) materialize(id, r);
  }

  // Walks the replayed runs' timelines from now (at full speed) to the first instant their summed
  // demand exceeds `cap`, and sets check_at there. Windows up to the next chunk end of any run are
  // first bounded by chunk peaks; only where that bound exceeds the cap are segments walked: those
  // of runs whose chunk peak alone is large, and every run's once their mix exceeds the cap.
  void sweep(double fixed, double cap) {
    auto& cs = chk_cur;
    cs.clear();
    // Up to the first replayed run's end: the running set changes there (a serving loop starts the
    // next batch), which checks again anyway.
    double horizon = kInf;
    for (const Run* r : rep_runs) {
      const Memo& m = *r->memo;
      cs.push_back(Cursor{m.seg_t.data(), m.seg_d.data(), m.chunk_d.data(), m.seg_t.size(), r->t_pos - r->pos_at,
                          r->seg, false});
      horizon = std::min(horizon, r->replay_end);
    }
    double t = now;
    bool tested = true;  // the exact level at t is known to be within the cap
    // At most this many windows and segment steps per check; past them, a re-check at that instant.
    int budget = 1024;
    while (true) {
      double end = horizon, bound = fixed;
      for (const Cursor& c : cs) {
        end = std::min(end, c.chunk_end());
        bound += c.chunk_peak();
      }
      if (bound > cap && !walk_window(t, end, tested, fixed, cap, budget)) return;
      if (end >= horizon || --budget < 0) {
        check_at = std::max(end, now);
        return;
      }
      t = end;
      for (Cursor& c : cs) c.advance(t);
      tested = false;
    }
  }

  // The segment walk of sweep() over [t, end): false when it set check_at (an excess, or the budget).
  bool walk_window(double t, double end, bool tested, double fixed, double cap, int& budget) {
    auto& cs = chk_cur;
    for (Cursor& c : cs) c.fine = c.chunk_peak() > 0.5 * (cap - fixed);
    bool all = false;
    auto level = [&] {
      double sum = fixed;
      for (const Cursor& c : cs) sum += c.fine ? c.seg_d[c.seg] : c.chunk_peak();
      return sum;
    };
    // Walks every run from `at` on (each at its segment there); true when the level exceeds the cap.
    auto refine = [&](double at) {
      for (Cursor& c : cs)
        if (!c.fine) {
          c.advance(at);
          c.fine = true;
        }
      all = true;
      return level() > cap;
    };
    if (level() > cap && refine(t) && !tested) {
      check_at = std::max(t, now);
      return false;
    }
    while (true) {
      double bt = kInf;
      for (const Cursor& c : cs)
        if (c.fine) bt = std::min(bt, c.next());
      if (bt >= end) return true;
      if (--budget < 0) {
        check_at = std::max(bt, now);
        return false;
      }
      for (Cursor& c : cs)
        if (c.fine && c.next() == bt) ++c.seg;
      if (level() > cap && (all || refine(bt))) {
        check_at = std::max(bt, now);
        return false;
      }
    }
  }

  // ---- the event loop ------------------------------------------------------------------------
  // Fluid replay: each replayed run's current segment asks the bandwidth it asked alone, as a kernel
  // with its resident warps (after the kernels', in rep_runs order).
  void add_replayed_demand() {
    rep_runs.clear();
    for (auto& [id, r] : runs) {
      if (!r.replayed) continue;
      advance_segment(r);
      rep_runs.push_back(&r);
      demand.push_back(r.memo->seg_d[r.seg]);
      weight.push_back(r.memo->seg_w[r.seg]);
    }
  }

  // Each replayed run moves along its timeline at its share now over the share it had alone (a
  // kernel's blocks all slow by its factor), and the next segment boundary of any is the next event.
  void pace_replayed() {
    const std::size_t first = kernel_ids.size();
    check_at = kInf;
    for (std::size_t j = 0; j < rep_runs.size(); ++j) {
      Run& r = *rep_runs[j];
      const Memo& m = *r.memo;
      const double speed = factor[first + j] / m.seg_f[r.seg];
      if (speed != r.speed) set_speed(r, speed);
      if (speed < 1 && !r.slowed) {
        r.slowed = true;
        ++throttled;
      }
      if (r.seg + 1 < m.seg_t.size()) check_at = std::min(check_at, when(r, m.seg_t[r.seg + 1]));
    }
  }

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
      const double sm_warps =
          mode == SimMode::fast ? busiest_warps(l) : groups[l.group].warps + (l.per_sm - l.charge) * a.k->warps;
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
    if (fluid) add_replayed_demand();
    share_bandwidth(demand, weight, device.dram_bytes_per_s(), factor, order);
    for (std::size_t i = 0; i < kernel_ids.size(); ++i) actives[kernel_ids[i]].factor = factor[i];
    if (profile) record_segment();
    if (fluid) pace_replayed();
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
    occupied_sm_s += occupied * dt;
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
    if (replay_on)
      for (auto& [id, r] : runs)
        if (r.replayed && r.replay_end <= now) finish_replayed(id, r);
    bool any_finished = false;
    for (std::size_t lid = 0; lid < lanes.size(); ++lid) {
      Lane& l = lanes[lid];
      if (!l.live) continue;
      if (mode == SimMode::fast) {
        if (done(l)) {
          finish_wave(static_cast<int>(lid));
          any_finished = true;
        }
        continue;
      }
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
    if (replay_on && (check_dirty || check_at <= now)) update_check();
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
      if (check_dirty) {
        update_check();
        recompute_rates();
      }
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
    p.spans.push_back(Span{0, p.sms, {}, 0, 0});
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
  s_->occupied = 0;  // idle: nothing was resident anyway
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
double Engine::occupied_sm_seconds() const { return s_->occupied_sm_seconds(); }
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
uint64_t Engine::throttled_runs() const { return s_->throttled; }

}  // namespace dstack::sim
