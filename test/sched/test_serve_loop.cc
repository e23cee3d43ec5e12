// The serving loop's own rules, with scripted policies: broken decisions are refused naming the
// policy; full queues, drops and the end of the run reject requests with a reason; a new layout
// waits for the runs in flight; SM utilization is the backend's occupancy read at the window's ends.
#include <gtest/gtest.h>

#include <functional>

#include "models/zoo.h"
#include "runtime/serve/serve_loop.h"
#include "runtime/sim/sim_backend.h"

namespace dstack::serve {
namespace {

struct Scripted final : sched::Policy {
  PartitionLayout first{{132}};
  std::function<sched::Decision(const sched::View&)> script;
  PartitionLayout start(const sched::PolicyContext&) override { return first; }
  sched::Decision decide(const sched::View& v) override { return script(v); }
};

struct OneModel {
  sim::DeviceSpec device = sim::load_device("h100_sxm");
  sim::SimBackend backend{device, sim::SimMode::fast};
  sched::PolicyContext ctx;
  OneModel(int64_t max_queue = 4096) {
    backend.add_model("alexnet", std::make_shared<const models::Graph>(
                                     models::build_zoo_model("alexnet", models::BuildOptions{.weights = false}).graph));
    ctx.models.push_back({"alexnet", 0.050, 100, false, max_queue});
  }
  ServeResult run(Scripted& p, std::vector<double> arrivals, double duration = 0.1, double window_start = 0) {
    return serve(backend, p, ctx, {std::move(arrivals)}, {duration, 0.05, "scripted", window_start});
  }
};

// Every queued request of model 0, one batch at a time, on the whole GPU.
Scripted greedy() {
  Scripted p;
  p.script = [](const sched::View& v) {
    sched::Decision d;
    if (v.models[0].queued > 0 && !v.models[0].in_flight) d.dispatches.push_back({0, v.models[0].queued, 0});
    return d;
  };
  return p;
}

// A backend that cannot observe residency (as a GPU without per-SM counters): every call forwarded
// to the simulator but occupied_sm_seconds, left at the interface's nullopt.
struct NoCounters final : Backend {
  Backend& b;
  explicit NoCounters(Backend& inner) : b(inner) {}
  std::string describe() const override { return b.describe(); }
  bool simulated() const override { return b.simulated(); }
  const SmPartitionGranularity& granularity() const override { return b.granularity(); }
  void add_model(const std::string& n, std::shared_ptr<const models::Graph> g) override { b.add_model(n, g); }
  ResolvedLayout set_layout(const PartitionLayout& l) override { return b.set_layout(l); }
  const ResolvedLayout& layout() const override { return b.layout(); }
  RunId submit(const RunRequest& r) override { return b.submit(r); }
  double now() const override { return b.now(); }
  std::optional<RunCompletion> run_until(double t) override { return b.run_until(t); }
  int in_flight() const override { return b.in_flight(); }
};

void expect_refused(Scripted& p, const std::string& what) {
  OneModel s;
  try {
    s.run(p, {0.0, 0.0, 0.001});
    FAIL() << "a broken decision must be refused";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("policy 'scripted'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(ServeLoop, RefusesABatchLargerThanTheQueue) {
  Scripted p;
  p.script = [](const sched::View& v) {
    sched::Decision d;
    if (v.models[0].queued > 0) d.dispatches.push_back({0, v.models[0].queued + 1, 0});
    return d;
  };
  expect_refused(p, "dispatched a batch of 3 of alexnet with 2 queued");
}

TEST(ServeLoop, RefusesABusyModel) {
  Scripted p;
  p.script = [](const sched::View& v) {
    sched::Decision d;
    if (v.models[0].queued > 0) d.dispatches.push_back({0, 1, 0});
    if (v.models[0].queued > 1) d.dispatches.push_back({0, 1, 0});
    return d;
  };
  expect_refused(p, "dispatched alexnet while its previous batch runs");
}

TEST(ServeLoop, RefusesAMissingPartition) {
  Scripted p;
  p.script = [](const sched::View& v) {
    sched::Decision d;
    if (v.models[0].queued > 0) d.dispatches.push_back({0, 1, 3});
    return d;
  };
  expect_refused(p, "to partition 3 of a layout with 1");
}

TEST(ServeLoop, FullQueueAndEndOfRunRejectWithReasons) {
  OneModel s(/*max_queue=*/2);
  Scripted idle;
  idle.script = [](const sched::View&) { return sched::Decision{}; };
  const ServeResult r = s.run(idle, std::vector<double>(10, 0.01));
  ASSERT_EQ(r.requests.size(), 10u);
  int full = 0, unserved = 0;
  for (const auto& q : r.requests) {
    EXPECT_EQ(q.outcome, Outcome::rejected);
    full += q.reason == RejectReason::queue_full;
    unserved += q.reason == RejectReason::unserved;
  }
  EXPECT_EQ(full, 8);
  EXPECT_EQ(unserved, 2);
  EXPECT_EQ(r.peak_queued, std::vector<int64_t>{2}) << "the queue holds max_queue and no more";
}

TEST(ServeLoop, DropsAreRejectionsAndServedRequestsCarryBackendTimes) {
  OneModel s;
  Scripted p;
  p.script = [](const sched::View& v) {
    sched::Decision d;
    if (v.models[0].queued == 3) d.drops.emplace_back(0, 1);  // the oldest goes
    if (v.models[0].queued >= 3 && !v.models[0].in_flight) d.dispatches.push_back({0, 2, 0});
    return d;
  };
  const ServeResult r = s.run(p, {0.0, 0.0, 0.0});
  ASSERT_EQ(r.runs.size(), 1u);
  EXPECT_EQ(r.requests[0].reason, RejectReason::dropped);
  for (int i : {1, 2}) {
    EXPECT_EQ(r.requests[i].outcome, Outcome::served);
    EXPECT_EQ(r.requests[i].finished_s, r.runs[0].finished_s);
    EXPECT_EQ(r.requests[i].batch, 2);
  }
  EXPECT_GT(r.runs[0].finished_s, r.runs[0].started_s);
  EXPECT_NEAR(r.busy_sm_seconds, 132 * (r.runs[0].finished_s - r.runs[0].started_s), 1e-12);
}

TEST(ServeLoop, ANewLayoutWaitsForTheRunsInFlight) {
  OneModel s;
  Scripted p;
  p.script = [](const sched::View& v) {
    sched::Decision d;
    if (v.layout->partitions.size() == 1 && v.models[0].queued > 0 && !v.models[0].in_flight &&
        v.partition_runs[0] == 0 && !v.layout_pending)
      d.dispatches.push_back({0, v.models[0].queued, 0});
    else if (v.layout->partitions.size() == 1 && v.models[0].in_flight)
      d.layout = PartitionLayout{{64, 56}};
    else if (v.layout->partitions.size() == 2 && v.models[0].queued > 0 && !v.models[0].in_flight)
      d.dispatches.push_back({0, v.models[0].queued, 1});
    return d;
  };
  const ServeResult r = s.run(p, {0.0, 0.0001});  // the second arrives while the first runs
  ASSERT_EQ(r.layouts.size(), 2u);
  ASSERT_EQ(r.runs.size(), 2u);
  EXPECT_GE(r.layouts[1].at_s, r.runs[0].finished_s);
  EXPECT_EQ(r.runs[1].layout, 1);
  EXPECT_EQ(r.runs[1].partition_sms, 56);
  EXPECT_EQ(r.runs[1].first_sm, 64);
}

TEST(ServeLoop, WholeGpuUtilizationIsOccupancyNotAllocation) {
  OneModel s;
  Scripted p = greedy();
  // Single AlexNet requests, one at a time: the GPU is lent whole while each runs, but its kernels'
  // few blocks fill few of the 132 SMs.
  const ServeResult r = s.run(p, {0.0, 0.01, 0.02, 0.03});
  ASSERT_EQ(r.runs.size(), 4u);
  ASSERT_TRUE(r.window_occupied_sm_seconds.has_value());
  const double occupied = *r.window_occupied_sm_seconds;
  EXPECT_GT(occupied, 0);
  EXPECT_LT(occupied, 0.5 * r.busy_sm_seconds) << "occupied " << occupied << " of " << r.busy_sm_seconds << " lent";
  // Every run lies inside the window [0, 0.1): the window holds all the backend ever counted.
  EXPECT_DOUBLE_EQ(occupied, *s.backend.occupied_sm_seconds());
}

TEST(ServeLoop, ReadingTheCounterAtTheWindowStartChangesNoDecision) {
  Scripted p = greedy(), q = greedy();
  OneModel s, t;
  const std::vector<double> arrivals = {0.0, 0.0, 0.0004, 0.0011, 0.0023, 0.004, 0.02};
  const ServeResult whole = s.run(p, arrivals);
  const ServeResult late = t.run(q, arrivals, 0.1, 0.0012);  // mid-run: the clock stops there
  EXPECT_EQ(whole.decisions, late.decisions);
  ASSERT_EQ(whole.runs.size(), late.runs.size());
  for (std::size_t i = 0; i < whole.runs.size(); ++i) {
    EXPECT_EQ(whole.runs[i].started_s, late.runs[i].started_s) << i;
    EXPECT_EQ(whole.runs[i].finished_s, late.runs[i].finished_s) << i;
  }
  ASSERT_TRUE(late.window_occupied_sm_seconds && whole.window_occupied_sm_seconds);
  EXPECT_LT(*late.window_occupied_sm_seconds, *whole.window_occupied_sm_seconds);
  EXPECT_GT(*late.window_occupied_sm_seconds, 0);
  // Read exactly at 0.0012 s (a run in flight then): [0, 0.0012) from a run whose serving stops
  // there without drain, so the clock stops there whatever the probes do (the same schedule: only
  // the arrivals before 0.0012 s drive it), plus [0.0012, 0.1), is the whole.
  Scripted r = greedy();
  OneModel u;
  const ServeResult early = serve(u.backend, r, u.ctx, {{0.0, 0.0, 0.0004, 0.0011}}, {0.0012, 0.0, "scripted"});
  ASSERT_EQ(early.runs.size(), 3u);
  EXPECT_GT(early.runs.back().finished_s, 0.0012);
  ASSERT_TRUE(early.window_occupied_sm_seconds.has_value());
  EXPECT_NEAR(*early.window_occupied_sm_seconds + *late.window_occupied_sm_seconds, *whole.window_occupied_sm_seconds,
              1e-12);
}

TEST(ServeLoop, OccupancyABackendCannotMeasureStaysUnknown) {
  OneModel s;
  NoCounters blind(s.backend);
  Scripted p = greedy();
  const ServeResult r = serve(blind, p, s.ctx, {{0.0, 0.01}}, {0.1, 0.05, "scripted"});
  ASSERT_EQ(r.runs.size(), 2u);
  EXPECT_GT(r.busy_sm_seconds, 0);
  EXPECT_FALSE(r.window_occupied_sm_seconds.has_value());
}

}  // namespace
}  // namespace dstack::serve
