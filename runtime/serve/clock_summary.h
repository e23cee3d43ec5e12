#pragma once
// What a wall-clock backend's report (Backend::wall_clock_report) says about one serving run, over
// its metrics window: how late the loop woke after completions and after deadlines (p50, p99), and
// how many CUDA graphs were captured while serving, in the window or before it. CPU only.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/backend/backend.h"

namespace dstack::serve {

struct LatenessSummary {
  int64_t count = 0;
  double p50_us = 0;
  double p99_us = 0;
  double max_us = 0;
};

struct ClockSummary {
  LatenessSummary after_completion;
  LatenessSummary after_deadline;
  int64_t captures_while_serving = 0;  // every capture after prepare()
  int64_t captures_in_window = 0;      // of those, in [window_start, window_end)
  double capture_s = 0;
  std::string waiting;
};

// `clock_start_s`: the backend clock when serving began (serve()'s zero); the window is relative to it.
ClockSummary summarize_clock(const WallClockReport& report, double clock_start_s, double window_start_s,
                             double window_end_s);

nlohmann::json clock_summary_json(const ClockSummary& s);

}  // namespace dstack::serve
