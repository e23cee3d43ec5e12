#pragma once
// The discrete-event GPU: an explicit clock (never the wall), SM pools (partitions: disjoint SM
// sets), runs of prepared plans on streams bound to a pool, and two granularities:
//  - block: every thread block is placed on an SM with room for it (per-resource accounting of
//    threads, blocks, registers, shared memory, barriers), kernels of a pool dispatched first come
//    first served and in order per stream, as the hardware block scheduler does;
//  - fast: per kernel, waves of blocks on its pool: each wave as many blocks as fit now, on the SMs
//    block mode's scheduler would pick, counted per span of SMs holding the same load rather than
//    block by block (so streams sharing a pool hold their own SMs: a tail wave on a few SMs leaves
//    the rest to others); a wave's blocks finish together at its busiest SM's pace.
// In both, blocks progress as fluids: each at its SM's compute and DRAM-port share (block_rate.h),
// and the device's DRAM bandwidth is divided among all running kernels (bandwidth.h) whenever the
// running set changes. CPU only.
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/sim/device_spec.h"
#include "runtime/sim/sim_plan.h"

namespace dstack::sim {

enum class SimMode { block, fast };
const char* sim_mode_name(SimMode m);               // "block" | "fast"
SimMode parse_sim_mode(const std::string& s);         // throws std::invalid_argument naming the choices

// One kernel of a run, as simulated.
struct KernelTiming {
  int kernel = 0;           // index into SimPlan::kernels
  double ready_s = 0;       // launched and its stream predecessor done
  double start_s = 0;       // first block dispatched
  double end_s = 0;         // last block done
  int64_t waves = 0;        // block mode: blocks / most blocks resident at once, rounded up; fast: waves dispatched
  int sms_used = 0;         // distinct SMs that ran its blocks (fast: the widest wave)
  int max_resident = 0;     // most of its blocks resident at once
  Bound bound = Bound::compute;  // what limited it for most of its time
};

struct RunTiming {
  double issue_s = 0;   // first launch issued
  double start_s = 0;   // first kernel started
  double end_s = 0;     // last kernel ended
  std::vector<KernelTiming> kernels;  // when recorded
};

class Engine {
 public:
  Engine(const DeviceSpec& device, SimMode mode);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  SimMode mode() const;
  const DeviceSpec& device() const;

  // A pool of SMs (ids 0..sm_count-1) streams can be bound to. Pools are disjoint: throws
  // std::invalid_argument for an id out of range or already in a pool.
  int add_pool(const std::vector<int>& sm_ids);
  // Forgets every pool; only when idle (std::logic_error otherwise).
  void clear_pools();
  int pool_sms(int pool) const;

  // Runs `plan` on a new stream bound to `pool`; its launches are issued from `issue_s` (>= now())
  // on: one cudaLaunchKernel each (per-kernel) or one graph launch. Returns the run's id.
  int start_run(std::shared_ptr<const SimPlan> plan, int pool, DispatchMode dispatch, double issue_s,
                bool record_kernels);

  double now() const;
  // The integral over simulated time, up to now(), of the number of SMs holding at least one
  // resident thread block: what the SMs were really given to do, not what partitions were lent.
  // Exact in block and fast mode (per SM / per span of SMs); a replayed run contributes its cached
  // timeline's occupancy, stretched with it when DRAM contention slows it.
  double occupied_sm_seconds() const;
  // Advances to the next run completion at or before `until_s` and returns the run's id (several
  // at one instant come back one per call, lowest id first); else stops the clock at `until_s`
  // (when finite) and returns nullopt.
  std::optional<int> run_until(double until_s = std::numeric_limits<double>::infinity());
  // The timing of a completed run (forgotten afterwards).
  RunTiming take_result(int run);
  bool idle() const;
  uint64_t events() const;  // loop iterations so far (for benchmarks)

  // Replay (fast mode only; on by default): a run alone in its pool is simulated once per (plan,
  // pool size, dispatch), in isolation with the same kernel machinery, and its timeline cached as
  // segments over which its DRAM demand, resident warps and bandwidth share are constant. While the
  // summed demand of everything running stays within the device's bandwidth (the replayed runs'
  // segments overlaid in time, plus a bound for every pool simulated by events), nothing throttles
  // it: it completes as one event at issue + cached duration. Where the sum exceeds the bandwidth
  // (fluid replay), each replayed run's current segment takes part in the bandwidth split as a
  // kernel asking what it asked alone, and the run moves along its timeline at the share it gets
  // over the share it had alone (what the event engine does to its blocks), one event per segment
  // boundary while it lasts. It falls back to events (materialized: its kernel-level state
  // re-simulated in isolation up to where it is) when another run joins its pool, or when it would
  // be slowed while recording kernels or with a later kernel waiting for its own launch (a delay
  // would not be a shift). Results equal the replay-off engine within rounding.
  void set_replay(bool on);
  bool replay() const;
  uint64_t replayed_runs() const;      // replays begun: at a run's start, or resumed between kernels
  uint64_t materialized_runs() const;  // replays that fell back to events before the run completed
  uint64_t throttled_runs() const;     // replays slowed by DRAM contention (fluid replay) at least once

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace dstack::sim
