// How fast the simulator serves whole experiments: per policy, simulated seconds per host second
// (counter sim_s_per_host_s: the serving loop, the policy and the simulated GPU together, from the
// first arrival to the last completion) on the demo mix and on experiments/baselines/mix6.yaml at
// load 1 and 2. The targets: every demo policy >= 20x real time, dstack >= 300x, on one
// core. Arrivals, plans and the oracle's caches are made before timing (a policy's first run warms
// the plans; the measured iterations repeat it).
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>

#include "models/zoo.h"
#include "runtime/sched/registry.h"
#include "runtime/serve/experiment_runner.h"
#include "runtime/sim/device_spec.h"
#include "runtime/sim/sim_backend.h"

namespace {

using namespace dstack;

std::shared_ptr<const models::Graph> shape(const std::string& name) {
  static std::map<std::string, std::shared_ptr<const models::Graph>> cache;
  auto& g = cache[name];
  if (!g)
    g = std::make_shared<const models::Graph>(models::build_zoo_model(name, models::BuildOptions{.weights = false}).graph);
  return g;
}

struct Experiment {
  serve::ExperimentConfig config;
  serve::ServingTarget target;
  std::unique_ptr<serve::ExperimentSetup> setup;
};

const Experiment& experiment(const std::string& file, double load) {
  static std::map<std::pair<std::string, double>, std::unique_ptr<Experiment>> cache;
  auto& e = cache[{file, load}];
  if (e) return *e;
  serve::ConfigChoices choices;
  for (const auto& z : models::zoo()) choices.models.push_back(z.name);
  choices.policies = sched::policy_names();
  choices.devices = sim::shipped_device_names();
  choices.check_policy_options = sched::check_policy_options;
  e = std::make_unique<Experiment>();
  e->config = serve::load_experiment_config(std::string(DSTACK_SOURCE_DIR) + "/" + file, choices);
  if (load != 1) serve::scale_load(e->config, load);
  e->target = serve::sim_target(e->config, {});
  e->setup = std::make_unique<serve::ExperimentSetup>(e->config, e->target, [](const std::string& m) { return shape(m); });
  return *e;
}

void BM_Serve(benchmark::State& state, const std::string& file, double load, const std::string& policy) {
  const Experiment& e = experiment(file, load);
  e.setup->serve_policy(policy);  // lowers and caches the plans this policy runs
  double simulated = 0, events = 0, runs = 0;
  for (auto _ : state) {
    const serve::PolicyRun run = e.setup->serve_policy(policy);
    simulated += run.result.end_s;
    runs += static_cast<double>(run.result.runs.size());
    if (const auto* sim = dynamic_cast<const sim::SimBackend*>(run.backend.get()))
      events += static_cast<double>(sim->events());
  }
  state.counters["sim_s_per_host_s"] = benchmark::Counter(simulated, benchmark::Counter::kIsRate);
  // Engine events and batches per simulated second: where the host time goes.
  state.counters["events_per_sim_s"] = events / simulated;
  state.counters["runs_per_sim_s"] = runs / simulated;
  state.SetLabel(e.config.name + " load x" + std::to_string(load).substr(0, 3) + ", " + policy +
                 ", simulated " + e.config.device + " (fast mode, roofline)");
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::tuple<std::string, std::string, double>> cases = {
      {"demo", "experiments/demo/mixed4.yaml", 1.0},
      {"mix6", "experiments/baselines/mix6.yaml", 1.0},
      {"mix6", "experiments/baselines/mix6.yaml", 2.0}};
  for (const auto& [label, file, load] : cases)
    for (const std::string& policy : sched::policy_names())
      benchmark::RegisterBenchmark(("BM_Serve/" + label + "_x" + std::to_string(static_cast<int>(load)) + "/" + policy)
                                       .c_str(),
                                   BM_Serve, file, load, policy)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime()
          ->MinTime(0.5);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
