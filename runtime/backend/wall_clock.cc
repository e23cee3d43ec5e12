#include "runtime/backend/wall_clock.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <thread>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

namespace dstack {
namespace {

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void sleep_for(double s) {
  if (s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

}  // namespace

WallClock::WallClock() : WallClock(Options{}) {}

WallClock::WallClock(Options options) : options_(options), start_(steady_seconds()) {
  if (!(options_.poll_s > 0) || !(options_.spin_s >= 0))
    throw std::invalid_argument("wall clock: the poll interval must be positive and the spin time >= 0");
#if defined(__linux__)
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);  // nanoseconds; best effort: a refusal only costs accuracy
#endif
}

double WallClock::now() const { return steady_seconds() - start_; }

bool WallClock::wait_until(double until_s, const std::function<bool()>& ready) const {
  while (true) {
    if (ready && ready()) return true;
    const double left = until_s - now();
    if (left <= 0) return false;
    if (left <= options_.spin_s) {
      std::this_thread::yield();
    } else if (ready) {
      sleep_for(std::min(options_.poll_s, left - options_.spin_s));
    } else {
      sleep_for(left - options_.spin_s);
    }
  }
}

}  // namespace dstack
