// Occupied SM-seconds (Engine::occupied_sm_seconds): the integral over simulated time of the SMs
// holding at least one resident thread block. Hand-computed on synthetic kernels in both
// granularities, and the replay path (cached timelines, stretched by DRAM contention, or falling
// back to events) against the same runs simulated by events.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "runtime/sim/engine.h"
#include "sim_test_util.h"

namespace dstack::sim {
namespace {

using test::compute_kernel;
using test::h100;
using test::KernelShape;
using test::make_kernel;
using test::make_plan;
using test::sm_range;


using test::BothModes;


// 1024 threads x 64 registers fill an SM's 64K registers: one block per SM at a time.
KernelShape one_per_sm(int64_t blocks) {
  return KernelShape{.blocks = blocks, .threads = 1024, .registers = 64, .flops_per_block = 1e6};
}

// Runs each plan on its pool to completion; returns the counter and the (recorded) timings by run.
struct Finished {
  double occupied = 0;
  std::map<int, RunTiming> runs;
};
Finished run_all(Engine& e, const std::vector<std::pair<std::shared_ptr<const SimPlan>, int>>& plans,
                 double issue_s = 0) {
  for (const auto& [plan, pool] : plans) e.start_run(plan, pool, DispatchMode::graph, issue_s, true);
  Finished f;
  while (auto id = e.run_until()) f.runs[*id] = e.take_result(*id);
  f.occupied = e.occupied_sm_seconds();
  return f;
}

double kernel_span(const RunTiming& t) { return t.kernels.at(0).end_s - t.kernels.at(0).start_s; }

TEST_P(BothModes, TenBlocksOnAWholeGpuOccupyTenSms) {
  for (bool replay : {false, true}) {
    Engine e(h100(), GetParam());
    e.set_replay(replay);
    const auto f = run_all(e, {{make_plan({make_kernel(h100(), compute_kernel(10))}), e.add_pool(sm_range(0, 132))}});
    const double t = kernel_span(f.runs.at(0));
    ASSERT_GT(t, 0);
    EXPECT_NEAR(f.occupied, 10 * t, 1e-12 * 10 * t) << "replay " << replay;  // not 132 x t
  }
}

TEST_P(BothModes, TwoPoolsAddUp) {
  for (bool replay : {false, true}) {
    Engine e(h100(), GetParam());
    e.set_replay(replay);
    const int a = e.add_pool(sm_range(0, 66));
    const int b = e.add_pool(sm_range(66, 66));
    const auto f = run_all(e, {{make_plan({make_kernel(h100(), compute_kernel(10))}), a},
                               {make_plan({make_kernel(h100(), compute_kernel(40))}), b}});
    const double expected = 10 * kernel_span(f.runs.at(0)) + 40 * kernel_span(f.runs.at(1));
    EXPECT_NEAR(f.occupied, expected, 1e-12 * expected) << "replay " << replay;
  }
}

TEST_P(BothModes, FullWavesOccupyEverySmAndATailWaveOnlyItsOwn) {
  const SimKernel full = make_kernel(h100(), one_per_sm(5 * 132));
  ASSERT_EQ(full.occupancy.blocks_per_sm, 1);
  for (bool replay : {false, true}) {
    {  // five full waves back to back (fast mode: one lane for the identical ones)
      Engine e(h100(), GetParam());
      e.set_replay(replay);
      const auto f = run_all(e, {{make_plan({full}), e.add_pool(sm_range(0, 132))}});
      EXPECT_EQ(f.runs.at(0).kernels.at(0).waves, 5);
      const double t = kernel_span(f.runs.at(0));
      EXPECT_NEAR(f.occupied, 132 * t, 1e-12 * 132 * t) << "replay " << replay;
    }
    {  // two full waves then 10 blocks, each wave one block's time T: 132 x 2T + 10 x T
      Engine e(h100(), GetParam());
      e.set_replay(replay);
      const auto f =
          run_all(e, {{make_plan({make_kernel(h100(), one_per_sm(2 * 132 + 10))}), e.add_pool(sm_range(0, 132))}});
      EXPECT_EQ(f.runs.at(0).kernels.at(0).waves, 3);
      const double wave = kernel_span(f.runs.at(0)) / 3;
      EXPECT_NEAR(f.occupied, (2 * 132 + 10) * wave, 1e-9 * 274 * wave) << "replay " << replay;
    }
  }
}

TEST_P(BothModes, LaunchOverheadAndIdleTimeAddNothing) {
  Engine e(h100(), GetParam());
  const int pool = e.add_pool(sm_range(0, 132));
  const int run = e.start_run(make_plan({make_kernel(h100(), compute_kernel(10))}), pool, DispatchMode::graph, 1e-3,
                              true);
  EXPECT_FALSE(e.run_until(1e-3).has_value());
  EXPECT_EQ(e.occupied_sm_seconds(), 0);  // issued, not started
  ASSERT_TRUE(e.run_until().has_value());
  const RunTiming t = e.take_result(run);
  const double after = e.occupied_sm_seconds();
  EXPECT_NEAR(after, 10 * kernel_span(t), 1e-12 * after);
  EXPECT_FALSE(e.run_until(1.0).has_value());
  EXPECT_EQ(e.occupied_sm_seconds(), after);  // an idle GPU occupies no SM
}

// The scenario of SimEngine.ReplayMatchesEventsKernelByKernel: two pools whose runs contend for
// DRAM, then two more runs joining one pool while the other's run is in flight. Unrecorded, the
// replayed runs are slowed in replay (fluid); recorded, they fall back to events. The counter, read
// every 20 us and at the end, is non-decreasing and equals the event engine's within 1e-9 of the
// total (the replayed timelines are shifted and stretched segment by segment, which rounds
// differently; the event engine's own run times agree to 1e-9 relative).
struct Sampled {
  std::vector<double> at;
  double total = 0;
  uint64_t replayed = 0, materialized = 0, throttled = 0;
};
Sampled contended(bool replay, bool record) {
  const auto& d = h100();
  const test::ContendedPlans plans = test::contended_plans(d);
  const auto& [pa, pb] = plans;
  Engine e(d, SimMode::fast);
  e.set_replay(replay);
  const auto [a, b] = test::start_contended(e, plans, record);
  Sampled s;
  bool joined = false;
  double next_sample = 20e-6;
  while (!e.idle()) {
    const auto id = e.run_until(next_sample);
    if (!id) {
      s.at.push_back(e.occupied_sm_seconds());
      next_sample += 20e-6;
      continue;
    }
    e.take_result(*id);
    if (!joined) {
      joined = true;
      e.start_run(pa, *id == 0 ? a : b, DispatchMode::graph, e.now(), record);
      e.start_run(pb, *id == 0 ? a : b, DispatchMode::graph, e.now() + 11e-6, record);
    }
  }
  s.total = e.occupied_sm_seconds();
  s.replayed = e.replayed_runs();
  s.materialized = e.materialized_runs();
  s.throttled = e.throttled_runs();
  return s;
}

TEST(SimOccupiedSms, ReplayedRunsCountAsTheirEventsDo) {
  const Sampled events = contended(false, true);
  const Sampled fluid = contended(true, false);
  const Sampled fallback = contended(true, true);
  EXPECT_GT(fluid.throttled, 0u);         // stretched in replay
  EXPECT_GT(fallback.materialized, 0u);   // fell back to events
  EXPECT_GT(fluid.replayed, 0u);
  ASSERT_GT(events.total, 0);
  // The four runs hold at most 128 SMs: less than 128 x the time they took.
  EXPECT_LT(events.total, 128 * 20e-6 * static_cast<double>(events.at.size() + 1));
  for (const Sampled* s : {&events, &fluid, &fallback}) {
    for (std::size_t i = 1; i < s->at.size(); ++i) EXPECT_GE(s->at[i], s->at[i - 1]) << i;
    EXPECT_GE(s->total, s->at.back());
  }
  const double tol = 1e-9 * events.total;
  EXPECT_NEAR(fluid.total, events.total, tol);
  EXPECT_NEAR(fallback.total, events.total, tol);
  ASSERT_EQ(fluid.at.size(), events.at.size());
  ASSERT_EQ(fallback.at.size(), events.at.size());
  for (std::size_t i = 0; i < events.at.size(); ++i) {
    EXPECT_NEAR(fluid.at[i], events.at[i], tol) << "sample " << i;
    EXPECT_NEAR(fallback.at[i], events.at[i], tol) << "sample " << i;
  }
}

}  // namespace
}  // namespace dstack::sim
