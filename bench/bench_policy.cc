// How long the policies take to decide, on the CPU: D-STACK per dispatch decision (every partition
// free, every model with requests queued) and per re-plan (batch optimizer for every model, then
// partitions or the cycle's columns), with 4, 8 and 16 models on the simulated H100; and every
// registered policy's decision in the same state with the demo's four models (BM_Decide/<policy>),
// the host time a GPU run's loop spends deciding before each dispatch. The oracle's latency cache is
// warm (a running server has seen its models' plans).
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/zoo.h"
#include "runtime/sched/registry.h"

namespace {

using namespace dstack;

const sim::DeviceSpec& h100() {
  static const sim::DeviceSpec d = sim::load_device("h100_sxm");
  return d;
}

struct Fleet {
  std::vector<std::shared_ptr<const models::Graph>> graphs;
  std::vector<std::string> names;
  std::unique_ptr<sched::ParallelismOracle> oracle;
  sched::PolicyContext ctx;
};

// `n` models cycling through a mix of the zoo, each with its own label, SLO and rate.
const Fleet& fleet(int n) {
  static std::map<int, Fleet> fleets;
  auto it = fleets.find(n);
  if (it != fleets.end()) return it->second;
  static const std::vector<std::string> mix = {"resnet50", "mobilenet_v2", "bert_base", "vgg16", "resnet18",
                                               "inception_v3", "alexnet", "resnext50_32x4d"};
  static const std::vector<double> slo_ms = {15, 8, 30, 25, 10, 40, 5, 20};
  static const std::vector<double> rate = {2400, 4800, 800, 640, 2000, 400, 3000, 600};
  Fleet f;
  for (int i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i) % mix.size();
    f.graphs.push_back(std::make_shared<const models::Graph>(
        models::build_zoo_model(mix[k], models::BuildOptions{.weights = false}).graph));
    f.names.push_back(mix[k] + "_" + std::to_string(i));
    f.ctx.models.push_back({f.names.back(), slo_ms[k] * 1e-3, rate[k] / (1 + i / 8), i == 0, 4096});
  }
  f.oracle = std::make_unique<sched::ParallelismOracle>(h100(), f.graphs, f.names, kernels::Precision::F32);
  f.ctx.oracle = f.oracle.get();
  return fleets.emplace(n, std::move(f)).first->second;
}

void BM_DstackReplan(benchmark::State& state) {
  const Fleet& f = fleet(static_cast<int>(state.range(0)));
  sched::make_policy("dstack")->start(f.ctx);  // warms the oracle's plans and latencies
  std::size_t partitions = 0;
  for (auto _ : state) {
    auto policy = sched::make_policy("dstack");
    partitions = policy->start(f.ctx).sms.size();
    benchmark::DoNotOptimize(partitions);
  }
  state.counters["partitions"] = static_cast<double>(partitions);
  state.SetLabel(std::to_string(state.range(0)) + " models, simulated h100_sxm");
}

// Times `name`'s decision with every model of `f` queued (64 each) and idle, on the layout the
// policy starts with, 1 ms into serving (64 arrivals seen just before).
void time_decisions(benchmark::State& state, const Fleet& f, const std::string& name) {
  auto policy = sched::make_policy(name);
  const PartitionLayout layout = policy->start(f.ctx);
  const ResolvedLayout resolved = resolve_layout(layout, h100().granularity());
  sched::View v;
  v.now_s = 0.001;
  v.late_if_finished_at = [](int, double) { return int64_t{0}; };
  v.layout = &resolved;
  v.partition_runs.assign(resolved.partitions.size(), 0);
  for (std::size_t i = 0; i < f.ctx.models.size(); ++i) v.models.push_back({64, 0.0, false, 64, 0});
  for (int i = 0; i < 64; ++i) policy->on_arrival(i % static_cast<int>(f.ctx.models.size()), 0.0005);
  std::size_t dispatches = 0;
  for (auto _ : state) {
    const sched::Decision d = policy->decide(v);
    dispatches = d.dispatches.size();
    benchmark::DoNotOptimize(dispatches);
  }
  state.counters["dispatches_per_decision"] = static_cast<double>(dispatches);
  state.SetLabel(name + ", " + std::to_string(f.ctx.models.size()) + " models, simulated h100_sxm");
}

void BM_DstackDispatch(benchmark::State& state) {
  time_decisions(state, fleet(static_cast<int>(state.range(0))), "dstack");
}

BENCHMARK(BM_DstackReplan)->Arg(4)->Arg(8)->Arg(16)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DstackDispatch)->Arg(4)->Arg(8)->Arg(16)->Unit(benchmark::kMicrosecond);

// Every registered policy's decision in the same state, with the demo's four models.
void BM_Decide(benchmark::State& state, const std::string& name) { time_decisions(state, fleet(4), name); }

}  // namespace

int main(int argc, char** argv) {
  for (const std::string& name : sched::policy_names())
    benchmark::RegisterBenchmark(("BM_Decide/" + name).c_str(), BM_Decide, name)->Unit(benchmark::kMicrosecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
