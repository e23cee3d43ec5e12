// The waiting code real-time backends share (WallClock) and what the runner makes of their reports
// (summarize_clock): deadlines are never met early, a ready poll ends the wait, and lateness
// percentiles and graph captures are counted by hand-checkable rules.
#include <gtest/gtest.h>

#include "runtime/backend/wall_clock.h"
#include "runtime/serve/clock_summary.h"

namespace dstack {
namespace {

TEST(WallClock, NeverWakesBeforeTheDeadline) {
  const WallClock clock;
  for (double wait : {0.0, 1e-5, 1e-3, 5e-3}) {
    const double until = clock.now() + wait;
    EXPECT_FALSE(clock.wait_until(until));
    EXPECT_GE(clock.now(), until) << "waited " << wait << " s";
  }
  EXPECT_FALSE(clock.wait_until(clock.now() - 1.0)) << "a past deadline returns at once";
}

TEST(WallClock, AReadyPollEndsTheWaitAndIsCheckedFirst) {
  const WallClock clock(WallClock::Options{.poll_s = 1e-4, .spin_s = 0});
  int polls = 0;
  const double start = clock.now();
  EXPECT_TRUE(clock.wait_until(start + 10.0, [&] { return ++polls == 5; }));
  EXPECT_EQ(polls, 5);
  EXPECT_LT(clock.now() - start, 5.0) << "it waited for the deadline instead of the poll";
  polls = 0;
  EXPECT_TRUE(clock.wait_until(start - 1.0, [&] { return ++polls > 0; })) << "ready is checked even past the deadline";
}

TEST(WallClock, RefusesABadPollInterval) {
  EXPECT_THROW(WallClock(WallClock::Options{.poll_s = 0}), std::invalid_argument);
  EXPECT_THROW(WallClock(WallClock::Options{.poll_s = 1e-5, .spin_s = -1}), std::invalid_argument);
}

TEST(ClockSummary, PercentilesByNearestRankAndCapturesByWindow) {
  WallClockReport r;
  // 1..100 us after completions: p50 is the 50th smallest, p99 the 99th.
  for (int i = 100; i >= 1; --i) r.wake_after_completion_s.push_back(i * 1e-6);
  r.wake_after_deadline_s = {3e-6};
  // The clock started at 10 s; the window is [0.5, 2) relative to it.
  r.capture_at_s = {10.1, 10.5, 11.9, 12.0};
  r.capture_s = 0.004;
  r.waiting = "polls";
  const serve::ClockSummary s = serve::summarize_clock(r, 10.0, 0.5, 2.0);
  EXPECT_EQ(s.after_completion.count, 100);
  EXPECT_NEAR(s.after_completion.p50_us, 50, 1e-9);
  EXPECT_NEAR(s.after_completion.p99_us, 99, 1e-9);
  EXPECT_NEAR(s.after_completion.max_us, 100, 1e-9);
  EXPECT_EQ(s.after_deadline.count, 1);
  EXPECT_NEAR(s.after_deadline.p99_us, 3, 1e-9);
  EXPECT_EQ(s.captures_while_serving, 4);
  EXPECT_EQ(s.captures_in_window, 2);  // 10.5 and 11.9
  const auto j = serve::clock_summary_json(s);
  EXPECT_EQ(j["graph_captures_in_window"], 2);
  EXPECT_EQ(j["waiting"], "polls");
  EXPECT_EQ(serve::summarize_clock(WallClockReport{}, 0, 0, 1).after_completion.count, 0);
}

}  // namespace
}  // namespace dstack
