// Serving in real time (PacedBackend, `dstack run --realtime`): the same arrivals served on the
// simulator and on the simulator paced to the wall clock. Every request is accounted in both, and
// none finishes sooner in real time: there the loop's own time and its late wake-ups come first.
#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "models/zoo.h"
#include "runtime/backend/paced_backend.h"
#include "runtime/sched/registry.h"
#include "runtime/serve/arrivals.h"
#include "runtime/serve/serve_loop.h"
#include "runtime/sim/sim_backend.h"

namespace dstack::serve {
namespace {

struct Small {
  sim::DeviceSpec device = sim::load_device("h100_sxm");
  std::vector<std::string> names = {"mobilenet_v2", "resnet18"};
  std::vector<std::shared_ptr<const models::Graph>> graphs;
  std::vector<std::vector<double>> arrivals;
  sched::PolicyContext ctx;
  std::unique_ptr<sched::ParallelismOracle> oracle;
  static constexpr double kDuration = 0.4;

  Small() {
    for (const auto& n : names) {
      graphs.push_back(std::make_shared<const models::Graph>(
          models::build_zoo_model(n, models::BuildOptions{.weights = false}).graph));
      ctx.models.push_back({n, 0.020, 50, false, 4096});
      ArrivalSpec spec;
      spec.kind = ArrivalKind::Constant;  // 20 ms apart: far more than a run takes
      spec.rate_rps = 50;
      arrivals.push_back(generate_arrivals(spec, kDuration, model_seed(3, n)));
    }
    oracle = std::make_unique<sched::ParallelismOracle>(device, graphs, names, kernels::Precision::F32);
    ctx.oracle = oracle.get();
    ctx.options = {{"max_queue_delay_ms", 0}};  // triton dispatches each request as it arrives
  }

  ServeResult serve_on(Backend& b) {
    for (std::size_t i = 0; i < names.size(); ++i) b.add_model(names[i], graphs[i]);
    auto policy = sched::make_policy("triton");
    return serve(b, *policy, ctx, arrivals, {kDuration, 0.05, "triton", 0});
  }
};

TEST(RealtimeServing, EveryRequestIsAccountedAndNoneFinishesSoonerThanSimulated) {
  Small w;
  sim::SimBackend simulated(w.device, sim::SimMode::fast);
  const ServeResult sim = w.serve_on(simulated);
  PacedBackend paced(std::make_unique<sim::SimBackend>(w.device, sim::SimMode::fast));
  const ServeResult real = w.serve_on(paced);

  std::size_t arrived = 0;
  for (const auto& a : w.arrivals) arrived += a.size();
  ASSERT_EQ(real.requests.size(), arrived);
  ASSERT_EQ(sim.requests.size(), arrived);
  std::map<Outcome, int> outcomes;
  double sim_sum = 0, real_sum = 0;
  for (std::size_t i = 0; i < arrived; ++i) {
    const RequestRecord& r = real.requests[i];
    const RequestRecord& s = sim.requests[i];
    ++outcomes[r.outcome];
    ASSERT_EQ(r.arrival_s, s.arrival_s);
    ASSERT_NE(s.outcome, Outcome::rejected) << "the light load serves every request on the simulator";
    if (r.outcome == Outcome::rejected) {
      EXPECT_NE(r.reason, RejectReason::none) << "request " << i << " rejected without a reason";
      continue;
    }
    EXPECT_GE(r.dispatched_s, r.arrival_s);
    EXPECT_GE(r.finished_s - r.arrival_s, s.finished_s - s.arrival_s - 1e-9) << "request " << i;
    sim_sum += s.finished_s - s.arrival_s;
    real_sum += r.finished_s - r.arrival_s;
  }
  EXPECT_EQ(outcomes[Outcome::served] + outcomes[Outcome::late] + outcomes[Outcome::rejected],
            static_cast<int>(arrived));
  EXPECT_GT(real_sum, sim_sum) << "real time added nothing to any request's latency";
  // The paced backend measured how late it woke.
  const auto report = paced.wall_clock_report();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->wake_after_completion_s.size(), real.runs.size());
  for (double late : report->wake_after_completion_s) EXPECT_GE(late, 0.0);
}

}  // namespace
}  // namespace dstack::serve
