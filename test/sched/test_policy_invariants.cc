// Every registered policy through the same invariants on the simulator, so a new policy is tested
// by being listed in runtime/sched/registry.cc: no request lost, no SM used by two partitions at
// once, byte-identical results for a seed, no model starved under a feasible load, and overloads
// of 2x and 10x capacity accounted request by request.
#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "models/zoo.h"
#include "runtime/sched/registry.h"
#include "runtime/serve/arrivals.h"
#include "runtime/serve/serve_loop.h"
#include "runtime/sim/sim_backend.h"

namespace dstack::sched {
namespace {

using serve::Outcome;

const sim::DeviceSpec& h100() {
  static const sim::DeviceSpec d = sim::load_device("h100_sxm");
  return d;
}

std::shared_ptr<const models::Graph> graph(const std::string& name) {
  static std::map<std::string, std::shared_ptr<const models::Graph>> cache;
  auto& g = cache[name];
  if (!g)
    g = std::make_shared<const models::Graph>(
        models::build_zoo_model(name, models::BuildOptions{.weights = false}).graph);
  return g;
}

struct Workload {
  std::vector<std::string> models;
  std::vector<double> slo_ms;
  std::vector<double> rate_rps;
  double duration_s = 2.0;
  uint64_t seed = 1;
};

// Four models of different sizes and SLOs. `load` is the offered work as a multiple of what the
// whole GPU serves running one model at a time at batch 32 (by the parallelism model): rates in
// the proportions 3 : 6 : 1 : 1 with sum_i rate_i · T_i(32, all SMs) / 32 = load.
Workload mixed(double load) {
  Workload w{{"resnet50", "mobilenet_v2", "vgg16", "bert_base"}, {40, 20, 60, 80}, {3, 6, 1, 1}};
  std::vector<std::shared_ptr<const models::Graph>> graphs;
  for (const auto& m : w.models) graphs.push_back(graph(m));
  const ParallelismOracle oracle(h100(), graphs, w.models, kernels::Precision::F32);
  double busy = 0;  // GPU-seconds per second at the unscaled rates
  for (std::size_t i = 0; i < w.models.size(); ++i)
    busy += w.rate_rps[i] * oracle.latency_s(static_cast<int>(i), 32, h100().sm_count) / 32;
  for (double& r : w.rate_rps) r *= load / busy;
  return w;
}

struct Outcomes {
  serve::ServeResult result;
  std::vector<int64_t> arrived, served, late, rejected;
};

Outcomes run(const std::string& policy_name, const Workload& w) {
  sim::SimBackend backend(h100(), sim::SimMode::fast);
  std::vector<std::shared_ptr<const models::Graph>> graphs;
  PolicyContext ctx;
  std::vector<std::vector<double>> arrivals;
  for (std::size_t i = 0; i < w.models.size(); ++i) {
    graphs.push_back(graph(w.models[i]));
    backend.add_model(w.models[i], graphs.back());
    ctx.models.push_back({w.models[i], w.slo_ms[i] * 1e-3, w.rate_rps[i], i == 0, 4096});
    serve::ArrivalSpec spec;
    spec.rate_rps = w.rate_rps[i];
    arrivals.push_back(serve::generate_arrivals(spec, w.duration_s, serve::model_seed(w.seed, w.models[i])));
  }
  const ParallelismOracle oracle(h100(), graphs, w.models, kernels::Precision::F32);
  ctx.oracle = &oracle;
  auto policy = make_policy(policy_name);
  Outcomes o;
  o.result = serve::serve(backend, *policy, ctx, arrivals, {w.duration_s, 0.2, policy_name});
  const std::size_t n = w.models.size();
  o.arrived.assign(n, 0), o.served.assign(n, 0), o.late.assign(n, 0), o.rejected.assign(n, 0);
  for (const auto& r : o.result.requests) {
    const auto m = static_cast<std::size_t>(r.model);
    ++o.arrived[m];
    if (r.outcome == Outcome::served) ++o.served[m];
    if (r.outcome == Outcome::late) ++o.late[m];
    if (r.outcome == Outcome::rejected) ++o.rejected[m];
  }
  for (std::size_t m = 0; m < n; ++m) EXPECT_EQ(o.arrived[m], static_cast<int64_t>(arrivals[m].size()));
  return o;
}

class EveryPolicy : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Registry, EveryPolicy, ::testing::ValuesIn(policy_names()),
                         [](const auto& p) { return p.param; });

void expect_accounted(const Outcomes& o) {
  for (const auto& r : o.result.requests) {
    if (r.outcome == Outcome::rejected) {
      EXPECT_NE(r.reason, serve::RejectReason::none);
      EXPECT_LT(r.finished_s, 0);
    } else {
      EXPECT_GE(r.dispatched_s, r.arrival_s);
      EXPECT_GT(r.finished_s, r.dispatched_s);
      EXPECT_GE(r.batch, 1);
    }
  }
  for (std::size_t m = 0; m < o.arrived.size(); ++m)
    EXPECT_EQ(o.served[m] + o.late[m] + o.rejected[m], o.arrived[m]) << "model " << m;
}

void expect_no_sm_shared(const serve::ServeResult& r) {
  // Runs that overlap in time use disjoint SMs unless they share one partition (streams on one
  // partition share its SMs, as the hardware does), and never come from two layouts.
  for (std::size_t a = 0; a < r.runs.size(); ++a)
    for (std::size_t b = a + 1; b < r.runs.size(); ++b) {
      const auto &x = r.runs[a], &y = r.runs[b];
      if (x.finished_s <= y.started_s || y.finished_s <= x.started_s) continue;
      ASSERT_EQ(x.layout, y.layout) << "runs of two layouts overlap in time";
      if (x.partition == y.partition) continue;
      const bool disjoint = x.first_sm + x.partition_sms <= y.first_sm || y.first_sm + y.partition_sms <= x.first_sm;
      ASSERT_TRUE(disjoint) << "partitions " << x.partition << " and " << y.partition << " share SMs";
    }
}

TEST_P(EveryPolicy, FeasibleLoadServesEveryModel) {
  const Workload w = mixed(0.3);
  const Outcomes o = run(GetParam(), w);
  expect_accounted(o);
  expect_no_sm_shared(o.result);
  for (std::size_t m = 0; m < o.arrived.size(); ++m) {
    ASSERT_GT(o.arrived[m], 0);
    // No starvation: at most 5% of a model's requests go unserved under a feasible load.
    EXPECT_GE(o.served[m] + o.late[m], o.arrived[m] * 95 / 100) << GetParam() << " starves model " << m;
  }
  EXPECT_GT(o.result.busy_sm_seconds, 0);
  // A resident block sits in a partition with a run in flight: occupancy never exceeds allocation.
  ASSERT_TRUE(o.result.window_occupied_sm_seconds.has_value());
  EXPECT_GT(*o.result.window_occupied_sm_seconds, 0);
  EXPECT_LE(*o.result.window_occupied_sm_seconds, serve::busy_sm_seconds(o.result, 0, w.duration_s) * (1 + 1e-9));
}

TEST_P(EveryPolicy, OverloadIsAccountedRequestByRequest) {
  for (double load : {2.0, 10.0}) {
    Workload w = mixed(load);
    w.duration_s = 1.0;
    const Outcomes o = run(GetParam(), w);
    expect_accounted(o);
    expect_no_sm_shared(o.result);
    int64_t missed = 0, arrived = 0;
    for (std::size_t m = 0; m < o.arrived.size(); ++m) missed += o.rejected[m] + o.late[m], arrived += o.arrived[m];
    // Ten times what the GPU serves one model at a time cannot all be served in time by anyone.
    if (load == 10.0) {
      EXPECT_GT(missed, arrived / 4) << GetParam();
    }
  }
}

TEST_P(EveryPolicy, SameSeedSameResult) {
  const Outcomes a = run(GetParam(), mixed(0.5));
  const Outcomes b = run(GetParam(), mixed(0.5));
  ASSERT_EQ(a.result.requests.size(), b.result.requests.size());
  for (std::size_t i = 0; i < a.result.requests.size(); ++i) {
    EXPECT_EQ(a.result.requests[i].finished_s, b.result.requests[i].finished_s);
    EXPECT_EQ(a.result.requests[i].outcome, b.result.requests[i].outcome);
  }
  ASSERT_EQ(a.result.runs.size(), b.result.runs.size());
  EXPECT_EQ(a.result.busy_sm_seconds, b.result.busy_sm_seconds);
}

TEST(PolicyRegistry, UnknownNameListsThePolicies) {
  try {
    make_policy("dstak");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown policy 'dstak'; choose dstack"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dstack::sched
