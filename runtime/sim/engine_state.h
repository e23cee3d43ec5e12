#pragma once
// The engine's internal state (engine.h is the interface): the data every part of it works on, and
// the parts, each in its own file:
//  - engine_events.cc: the event core: runs and their kernels, the event loop, rates and the DRAM
//    split, the clock;
//  - engine_dispatch.cc: placing blocks on SMs: block by block (block mode) and waves on spans of
//    equally loaded SMs (fast mode);
//  - engine_replay.cc: replay: cached isolated timelines of runs alone in their pool, fluid replay
//    under DRAM contention, and falling back to events.
// Included by those files and engine.cc only. CPU only.
#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "runtime/sim/bandwidth.h"
#include "runtime/sim/block_rate.h"
#include "runtime/sim/engine.h"

namespace dstack::sim {
namespace engine_detail {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Segments per chunk of a cached timeline: the overlay check bounds a chunk by its peak first.
constexpr std::size_t kChunk = 8;
// Fast mode: SM sets as bit masks of this many words; a pool beyond them recomputes every speed.
constexpr int kMaskWords = 4;
using SmMask = std::array<uint64_t, kMaskWords>;
void mask_range(SmMask& m, int lo, int hi);

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
  // blocks_that_fit(*fit_for, used), kept until the load changes (a kernel asks at every dispatch).
  mutable const SimKernel* fit_for = nullptr;
  mutable int fit = 0;
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
  SmMask covers{};  // fast mode: the SMs of its pieces, one bit each
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
  // Fast mode, since the last dispatch: SM ranges whose spans' loads changed (a lane elsewhere keeps
  // its speed), or all of them.
  SmMask changed{};
  bool all_changed = false;
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

}  // namespace engine_detail

using namespace engine_detail;

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
  // Between two process() calls only lone-wave continuations happen, and they change one lane's
  // finish time each: the lanes' finish times as a min-heap (time, lane) and the runs' earliest
  // event, so the next event is a pop, not a scan of every lane and run. Rebuilt after process().
  std::vector<std::pair<double, int>> due;
  bool due_ok = false;
  double runs_next = kInf;

  State(std::shared_ptr<const DeviceSpec> d, SimMode m)
      : device_own(std::move(d)), device(*device_own), mode(m), group_of_sm(device.sm_count, -1) {}

  // ---- lanes and kernels ---------------------------------------------------------------------
  double work_done(const Lane& l) const { return l.v_at + l.rate * (now - l.t_at); }
  double finish_time(const Lane& l) const { return l.t_at + (l.entries.front().finish_v - l.v_at) / l.rate; }

  int alloc_lane();

  int alloc_active();

  int lane_for(Active& a, int group_index_in_pool);

  // Block mode: one block on the pool's SM `group_index_in_pool`.
  void place_block(Active& a, int group_index_in_pool);

  // Block mode: one block at a time, in rounds over the pool's SMs so a wave spreads evenly.
  bool dispatch_blocks(Active& a);

  // ---- fast mode: waves on spans ----------------------------------------------------------------
  // The index of the span that starts at SM `x` of the pool (spans.size() for its end), splitting
  // the span holding it.
  static std::size_t split_at(std::vector<Span>& spans, int x);

  static bool same_load(const Span& a, const Span& b);

  // Adds (sign 1) or removes (-1) the pieces' blocks of `k` on their SMs, then joins neighbours left alike.
  // Returns the change in SMs holding a block (the occupancy counter's input).
  // The SMs whose spans changed (joins included) are marked in the pool's `changed`.
  static int load(Pool& p, const std::vector<Piece>& pieces, const SimKernel& k, int sign);
  // Whether the lane's SMs lie outside every changed range of its pool: its speed stands.
  bool speed_stands(const Lane& l) const;

  static int occupied_in(const std::vector<Span>& spans);

  // The most warps resident on any SM a wave occupies: its blocks there are the slowest.
  double busiest_warps(const Lane& l) const;

  // `waves` identical waves of `resident` blocks each (`blocks` in all) on `pieces` as one lane.
  void place_wave(Active& a, int64_t blocks, int64_t resident, int64_t waves);

  // Fast mode: a wave of as many blocks as fit now, placed where block mode's scheduler places them
  // (round after round, one block on every SM with room, in SM order), counted per span of SMs alike
  // instead of block by block. Blocks of other streams' kernels hold their own SMs, so a tail wave
  // on a few SMs leaves the rest to others and shares its SMs' rate with what they hold.
  bool dispatch_wave(Active& a);

  // Fills `pieces` with `n` blocks placed in rounds: the full rounds reach every SM with room left,
  // the last (partial) one the first SMs in order.
  void plan_rounds(const Pool& p, int64_t n, int most);

  void finish_wave(int lid);

  void dispatch(int pool);

  void release_lane(int lid);

  // ---- runs ----------------------------------------------------------------------------------
  void schedule_next(Run& r);

  void activate(int run_id, Run& r);

  void finish_kernel(int id);

  // ---- replay --------------------------------------------------------------------------------
  int add_fast_pool(int sms);

  int new_run(std::shared_ptr<const SimPlan> plan, int pool, DispatchMode dispatch, double issue_s, bool record);

  const Memo& memo_for(const std::shared_ptr<const SimPlan>& plan, int sms, DispatchMode dispatch);

  // A memo's engine, after each event: the segment of the run's timeline that starts now.
  void record_segment();

  bool pool_alone(int id, int pool) const;

  // ---- replayed runs on their cached timelines --------------------------------------------------
  double position(const Run& r) const { return r.pos_at + r.speed * (now - r.t_pos); }
  // When the replayed run reaches cached time `p` at its present speed (at full speed, a shift: the
  // sweep computes the same sums).
  static double when(const Run& r, double p);

  // The segment of a memo's timeline holding cached time `p` (the first one before its issue).
  static std::size_t segment_at(const Memo& m, double p);

  // Occupied SM-seconds of a memo's timeline over cached time [0, p) (none before its issue).
  static double cached_occupied(const Memo& m, double p);

  // A replayed run's occupied SM-seconds from its anchor (t_pos) to now. Stretched by DRAM
  // contention, its blocks stay resident for the stretched time: cached SM-seconds over its speed.
  double replayed_occupied(const Run& r) const;

  // Before a replayed run is re-anchored or leaves replay: its occupancy so far joins the counter.
  void settle_occupied(const Run& r) { occupied_sm_s += replayed_occupied(r); }

  double occupied_sm_seconds() const;

  // Starts (or resumes) replaying `r` at cached time `p`, now, at full speed.
  void begin_replay(Run& r, double p);

  // Moves the run's segment to the one holding now.
  void advance_segment(Run& r) const;

  // Re-anchors the run at now with a new speed.
  void set_speed(Run& r, double speed);

  // A simulated run between kernels, alone in its pool, whose remaining kernels each wait for their
  // predecessor: its remainder is the cached timeline shifted, so it is replayed from here.
  void try_resume(int id, Run& r);

  // A new run: replayed when alone in its pool; a replayed run already there falls back to events.
  void start_replay(int id, Run& r);

  // Appends cached kernels [from, to) shifted by `shift` to the run's record.
  void record_cached(Run& r, std::size_t from, std::size_t to, double shift);

  // A recorded run is never slowed in replay (fluid mode materializes it), so its cached kernels
  // are shifted by the one offset.
  void finish_replayed(int id, Run& r);

  // The replayed run's kernel-level state at `now`: the run re-simulated alone in a pool of its size
  // up to where it is on its timeline (what it was, but for a delay when it was slowed: slowed
  // runs wait for their predecessors, so the delay is a shift), copied into this engine.
  // Only the kernel in flight (or next) is re-simulated: before it the run's pool is empty.
  void materialize(int id, Run& r);

  // Whether a replayed run may be slowed and stay replayed: not when its kernels are recorded
  // (one shift for all), nor when a later kernel of it waits for its launch rather than for its
  // predecessor (a delay would then not be a shift).
  bool may_slow(const Run& r) const;

  // Decides how the replayed runs go on from now: at full speed until the first instant their
  // cached segments' demands, plus a bound for every pool simulated by events (its run's current
  // kernel's peak when alone, else its SMs' DRAM ports), could exceed the device's bandwidth
  // (check_at), or, when that is now, as fluids (process and recompute_rates step them).
  void update_check();

  // The replayed runs may be slowed from now on; those that may not fall back to events.
  void enter_fluid();

  // Walks the replayed runs' timelines from now (at full speed) to the first instant their summed
  // demand exceeds `cap`, and sets check_at there. Windows up to the next chunk end of any run are
  // first bounded by chunk peaks; only where that bound exceeds the cap are segments walked: those
  // of runs whose chunk peak alone is large, and every run's once their mix exceeds the cap.
  void sweep(double fixed, double cap);

  // The segment walk of sweep() over [t, end): false when it set check_at (an excess, or the budget).
  bool walk_window(double t, double end, bool tested, double fixed, double cap, int& budget);

  // ---- the event loop ------------------------------------------------------------------------
  // Fluid replay: each replayed run's current segment asks the bandwidth it asked alone, as a kernel
  // with its resident warps (after the kernels', in rep_runs order).
  void add_replayed_demand();

  // Each replayed run moves along its timeline at its share now over the share it had alone (a
  // kernel's blocks all slow by its factor), and the next segment boundary of any is the next event.
  void pace_replayed();

  void recompute_rates();

  void advance(double dt);

  // Finished when due now (the lane the clock advanced to) or within rounding of it.
  bool done(const Lane& l) const;
  // Fast mode: when the only thing happening now is one wave of the head kernel of a pool
  // finishing while that kernel has blocks left, the kernel would place the same wave on the same
  // SMs again (its own freed room is all the room there is): the lane runs one more wave instead,
  // and nothing else changes. True when it did (the event is handled); exact, not an approximation.
  bool continue_lone_wave();
  void rebuild_due();

  void process();

  std::optional<int> step(double until);
};

}  // namespace dstack::sim
