// The capacity search (runtime/serve/capacity.h): its probe sequence on synthetic thresholds, written
// out by hand from the rule, in both bracketing directions and at both bounds; the pass rule on
// hand-made metrics; and one model alone on the simulated H100, whose capacity follows from its
// batch-1 latency.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/zoo.h"
#include "runtime/sched/registry.h"
#include "runtime/serve/capacity.h"
#include "runtime/serve/experiment_runner.h"
#include "runtime/sim/device_spec.h"

namespace dstack::serve {
namespace {

// Passes iff load <= threshold; remembers nothing, the search records the probes.
std::function<ProbeResult(double)> threshold_probe(double threshold) {
  return [threshold](double load) {
    ProbeResult r;
    r.pass = load <= threshold;
    r.slo_attainment = r.pass ? 1.0 : 0.5;
    return r;
  };
}

std::vector<double> loads(const CapacityResult& r) {
  std::vector<double> out;
  for (const auto& p : r.probes) out.push_back(p.load);
  return out;
}

// Every load below is a sum of powers of two, so the expected sequences compare exactly.
TEST(CapacitySearch, BisectsTheFirstDoublingBracket) {
  const CapacityResult r = find_capacity(threshold_probe(1.37), {});
  // x1 passes, x2 fails: bisect [1, 2] until the bracket is at most 0.05 wide.
  EXPECT_EQ(loads(r), (std::vector<double>{1, 2, 1.5, 1.25, 1.375, 1.3125, 1.34375}));
  ASSERT_TRUE(r.capacity);
  EXPECT_EQ(*r.capacity, 1.34375);
  EXPECT_LE(*r.capacity, 1.37);
  EXPECT_GT(*r.capacity, 1.37 - 0.05);
  EXPECT_FALSE(r.at_max_load);
  ASSERT_NE(r.at_capacity(), nullptr);
  EXPECT_EQ(r.at_capacity()->load, 1.34375);
}

TEST(CapacitySearch, DoublesUpWhileItPasses) {
  const CapacityResult r = find_capacity(threshold_probe(5), {});
  // 1, 2, 4 pass, 8 fails: [4, 8] -> 6 F, 5 P, then every midpoint above 5 fails down to [5, 5.03125].
  EXPECT_EQ(loads(r), (std::vector<double>{1, 2, 4, 8, 6, 5, 5.5, 5.25, 5.125, 5.0625, 5.03125}));
  EXPECT_EQ(*r.capacity, 5);
}

TEST(CapacitySearch, HalvesDownWhileItFails) {
  const CapacityResult r = find_capacity(threshold_probe(0.3), {});
  // 1 and 0.5 fail, 0.25 passes: [0.25, 0.5] -> 0.375 F, 0.3125 F, 0.28125 P, 0.03125 wide.
  EXPECT_EQ(loads(r), (std::vector<double>{1, 0.5, 0.25, 0.375, 0.3125, 0.28125}));
  EXPECT_EQ(*r.capacity, 0.28125);
  EXPECT_GT(*r.capacity, 0.3 - 0.05);
}

TEST(CapacitySearch, StopsAtMaxLoadWhenEverythingPasses) {
  CapacitySearch s;
  s.max_load = 6;
  const CapacityResult r = find_capacity(threshold_probe(100), s);
  // The last doubling is clamped to max_load.
  EXPECT_EQ(loads(r), (std::vector<double>{1, 2, 4, 6}));
  EXPECT_EQ(*r.capacity, 6);
  EXPECT_TRUE(r.at_max_load);
}

TEST(CapacitySearch, MaxLoadBelowOneIsTheFirstProbe) {
  CapacitySearch s;
  s.max_load = 0.5;
  const CapacityResult r = find_capacity(threshold_probe(100), s);
  EXPECT_EQ(loads(r), (std::vector<double>{0.5}));
  EXPECT_TRUE(r.at_max_load);
}

TEST(CapacitySearch, NothingPassesDownToTheResolution) {
  const CapacityResult r = find_capacity(threshold_probe(0.01), {});
  // The last halving is clamped to the resolution, which fails too.
  EXPECT_EQ(loads(r), (std::vector<double>{1, 0.5, 0.25, 0.125, 0.0625, 0.05}));
  EXPECT_FALSE(r.capacity);
  EXPECT_EQ(r.at_capacity(), nullptr);
  EXPECT_EQ(r.smallest_load(), 0.05);
  ASSERT_NE(r.best_probe(), nullptr);
  EXPECT_EQ(r.best_probe()->load, 1);  // all at 50%: the larger load
}

TEST(CapacitySearch, ResolutionIsAbsolute) {
  CapacitySearch s;
  s.resolution = 0.25;
  // [1, 2] -> 1.5 F, 1.25 P: 0.25 wide, done.
  EXPECT_EQ(loads(find_capacity(threshold_probe(1.37), s)), (std::vector<double>{1, 2, 1.5, 1.25}));
}

TEST(CapacitySearch, AProbeThatThrowsStopsTheSearch) {
  const auto probe = [](double load) -> ProbeResult {
    if (load > 1) throw std::runtime_error("boom");
    return {load, true, 1.0, "", std::nullopt, 0};
  };
  EXPECT_THROW(find_capacity(probe, {}), std::runtime_error);
}

TEST(CapacitySearch, RefusesBadParameters) {
  auto refused = [](CapacitySearch s, const std::string& what) {
    try {
      find_capacity(threshold_probe(1), s);
      ADD_FAILURE() << "accepted " << what;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  CapacitySearch s;
  s.criteria.target = 1.5;
  refused(s, "--target 1.5");
  s = {};
  s.criteria.target = 0;
  refused(s, "--target 0");
  s = {};
  s.criteria.per_model = -0.1;
  refused(s, "--per-model -0.1");
  s = {};
  s.max_load = 0;
  refused(s, "--max-load 0");
  s = {};
  s.resolution = 0;
  refused(s, "--resolution 0");
  s = {};
  s.resolution = 8;
  refused(s, "below --max-load (8)");
}

ModelMetrics model(const std::string& name, int64_t requests, int64_t served) {
  ModelMetrics m;
  m.name = name;
  m.requests = requests;
  m.served = served;
  if (requests > 0) m.slo_attainment = static_cast<double>(served) / static_cast<double>(requests);
  return m;
}

TEST(CapacityCriteria, NeedTheMixAndEveryModel) {
  ServeMetrics m;
  m.models = {model("a", 1000, 1000), model("b", 100, 96), model("idle", 0, 0)};
  m.all = model("all", 1100, 1096);  // 99.6%
  m.all.goodput_rps = 1096;
  ProbeResult r = evaluate_probe(m, 1.5, {0.99, 0.97});
  EXPECT_FALSE(r.pass);  // b is at 96% < 97%, though the mix is above 99%
  EXPECT_EQ(r.worst_model, "b");
  EXPECT_DOUBLE_EQ(*r.worst_model_attainment, 0.96);
  EXPECT_EQ(r.load, 1.5);
  EXPECT_DOUBLE_EQ(r.goodput_rps, 1096);
  // A model without requests never fails the probe.
  EXPECT_TRUE(evaluate_probe(m, 1.5, {0.99, 0.96}).pass);
  // The mix alone can fail it too, and an exact 99% passes.
  m.models[1] = model("b", 100, 89);
  m.all = model("all", 1100, 1089);
  EXPECT_TRUE(evaluate_probe(m, 1, {0.99, 0.89}).pass);
  EXPECT_FALSE(evaluate_probe(m, 1, {0.991, 0.89}).pass);
  // An empty window measured nothing.
  m.models = {model("a", 0, 0)};
  m.all = model("all", 0, 0);
  r = evaluate_probe(m, 0.05, {0.99, 0.97});
  EXPECT_FALSE(r.pass);
  EXPECT_FALSE(r.slo_attainment);
  EXPECT_EQ(r.worst_model, "");
}

// One resnet18 alone on the simulated H100, constant arrivals, Triton with one request per batch and
// no queue delay: each request runs as soon as the previous one finishes. By hand:
//   `dstack sim run resnet18 --batch 1` (h100_sxm, roofline, fast mode): latency T1 = 0.849 ms;
//   with the SLO at 1 ms a request alone is served. At rate r the gap between arrivals is 1/r: when
//   1/r >= T1 nothing queues and every request takes T1 (all served); when 1/r < T1 each request
//   waits (T1 - 1/r) longer than the one before, so past (1 ms - T1) / (T1 - 1/r) requests every
//   one is late. The config's rate is 1000 requests/s, so the capacity is the load factor
//   L* = 1 / (1000/s x T1) = 1 / 0.849 = 1.178; just above it (x1.179, 1179 requests/s) the
//   backlog reaches the 0.151 ms of slack within 0.2 s, during the warm-up, so the window misses
//   far more than 1%. The search (x1 passes, x2 fails, bisect) must end within 0.05 below L*.
TEST(CapacityOnTheSimulator, OneModelAloneSaturatesAtOneOverItsLatency) {
  ConfigChoices choices;
  for (const auto& e : models::zoo()) choices.models.push_back(e.name);
  choices.policies = sched::policy_names();
  choices.devices = sim::shipped_device_names();
  const ExperimentConfig config = parse_experiment_config(R"(
name: one_resnet18
device: h100_sxm
duration_s: 0.6
warmup_s: 0.2
policies: [triton]
policy_options:
  triton: {max_batch: 1, max_queue_delay_ms: 0}
models:
  - name: resnet18
    model: resnet18
    slo_ms: 1
    workload: {arrival: constant, rate_rps: 1000}
)",
                                                          "one_resnet18.yaml", choices);
  const ServingTarget target = sim_target(config, {});
  const auto graph = std::make_shared<const models::Graph>(
      models::build_zoo_model("resnet18", models::BuildOptions{.weights = false}).graph);
  const auto load_graph = [&](const std::string&) { return graph; };
  std::map<double, std::pair<std::unique_ptr<ExperimentConfig>, std::unique_ptr<ExperimentSetup>>> at;
  const auto serve_at = [&](double load) {
    auto& [c, setup] = at[load];
    c = std::make_unique<ExperimentConfig>(config);
    scale_load(*c, load);
    setup = std::make_unique<ExperimentSetup>(*c, target, load_graph);
    return setup->serve_policy("triton").metrics;
  };

  // The latency the hand computation starts from, as the loop sees it at a light load.
  const ServeMetrics light = serve_at(0.1);
  ASSERT_TRUE(light.all.p50_ms);
  const double t1_ms = *light.all.p50_ms;
  EXPECT_NEAR(t1_ms, 0.849, 0.001) << "the simulated latency moved: redo the hand computation above";
  const double saturation = 1 / (1000 * t1_ms * 1e-3);

  CapacitySearch search;
  const CapacityResult r = find_capacity(
      [&](double load) { return evaluate_probe(serve_at(load), load, search.criteria); }, search);
  ASSERT_TRUE(r.capacity);
  EXPECT_LE(*r.capacity, saturation);
  EXPECT_GT(*r.capacity, saturation - search.resolution);
  EXPECT_EQ(loads(r), (std::vector<double>{1, 2, 1.5, 1.25, 1.125, 1.1875, 1.15625}));
  EXPECT_DOUBLE_EQ(*r.at_capacity()->slo_attainment, 1);
  for (const auto& p : r.probes)
    EXPECT_TRUE(p.pass || p.load > saturation) << "x" << p.load << " failed below the saturation load";
}

}  // namespace
}  // namespace dstack::serve
