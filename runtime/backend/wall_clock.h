#pragma once
// The wall clock a real-time backend runs on, and the one way such a backend waits: until a moment
// or until something it polls is ready, sleeping between polls instead of spinning a core. Shared by
// the CUDA backend (polling CUDA events) and the simulator paced to the wall clock (sleeping until
// the simulated completion). CPU only.
#include <functional>

namespace dstack {

class WallClock {
 public:
  struct Options {
    // Between two polls of `ready`, the thread sleeps this long (or less, to meet the deadline).
    double poll_s = 20e-6;
    // The last stretch before a deadline is spent yielding instead of sleeping: a sleep can overshoot
    // by the kernel's wake-up latency, a yield loop by a few microseconds.
    double spin_s = 20e-6;
  };

  // Starts at 0 now. Also asks Linux for 1 us timer slack on the calling thread (the default 50 us
  // would make every short sleep 50 us late).
  WallClock();
  explicit WallClock(Options options);

  // Seconds since construction (steady clock).
  double now() const;

  // Returns once ready() is true (checked first, then every poll_s) or once now() >= until_s,
  // whichever comes first, and returns ready()'s last value. Without `ready`, sleeps until until_s.
  // A past until_s returns at once (after one check of ready).
  bool wait_until(double until_s, const std::function<bool()>& ready = {}) const;

  const Options& options() const { return options_; }

 private:
  Options options_;
  double start_ = 0;  // steady-clock seconds at construction
};

}  // namespace dstack
