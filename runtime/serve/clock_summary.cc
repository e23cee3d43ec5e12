#include "runtime/serve/clock_summary.h"

#include <algorithm>

#include "runtime/core/percentile.h"

namespace dstack::serve {
namespace {

LatenessSummary lateness(const std::vector<double>& seconds) {
  LatenessSummary s;
  s.count = static_cast<int64_t>(seconds.size());
  if (seconds.empty()) return s;
  s.p50_us = 1e6 * nearest_rank(seconds, 50);
  s.p99_us = 1e6 * nearest_rank(seconds, 99);
  s.max_us = 1e6 * *std::max_element(seconds.begin(), seconds.end());
  return s;
}

nlohmann::json lateness_json(const LatenessSummary& s) {
  return {{"count", s.count}, {"p50_us", s.p50_us}, {"p99_us", s.p99_us}, {"max_us", s.max_us}};
}

}  // namespace

ClockSummary summarize_clock(const WallClockReport& r, double clock_start_s, double window_start_s,
                             double window_end_s) {
  ClockSummary s;
  s.after_completion = lateness(r.wake_after_completion_s);
  s.after_deadline = lateness(r.wake_after_deadline_s);
  for (double t : r.capture_at_s) {
    const double rel = t - clock_start_s;
    ++s.captures_while_serving;
    if (rel >= window_start_s && rel < window_end_s) ++s.captures_in_window;
  }
  s.capture_s = r.capture_s;
  s.waiting = r.waiting;
  return s;
}

nlohmann::json clock_summary_json(const ClockSummary& s) {
  return {{"wake_after_completion", lateness_json(s.after_completion)},
          {"wake_after_deadline", lateness_json(s.after_deadline)},
          {"graph_captures_while_serving", s.captures_while_serving},
          {"graph_captures_in_window", s.captures_in_window},
          {"graph_capture_s", s.capture_s},
          {"waiting", s.waiting},
          {"definitions",
           {{"wake_after_completion", "when run_until returned minus when the run finished (CUDA events or the "
                                      "simulator), nearest-rank percentiles over every completion"},
            {"wake_after_deadline", "when run_until returned minus the deadline it was given, when nothing finished"}}}};
}

}  // namespace dstack::serve
