// The simulator's speed: four models running batch after batch, each in its own partition (the
// serving loop's shape), on one core. Reports simulated seconds per wall second (counter
// sim_s_per_wall_s; the fast mode's target is >= 1000) and engine events per wall second.
#include <benchmark/benchmark.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "models/zoo.h"
#include "runtime/sim/sim_backend.h"

namespace {

using namespace dstack;

const std::vector<std::string> kModels = {"resnet50", "mobilenet_v2", "vgg16", "bert_base"};

void BM_FourModelsFourPartitions(benchmark::State& state) {
  const auto mode = state.range(0) == 0 ? sim::SimMode::fast : sim::SimMode::block;
  const int64_t batch = state.range(1);
  const bool partitioned = state.range(2) != 0;
  const bool replay = state.range(3) != 0;
  sim::SimBackend b(sim::load_device("h100_sxm"), mode);
  b.set_replay(replay);
  for (const auto& m : kModels)
    b.add_model(m, std::make_shared<const models::Graph>(
                       models::build_zoo_model(m, models::BuildOptions{.weights = false}).graph));
  if (partitioned) b.set_layout(PartitionLayout{{32, 32, 32, 24}});
  b.run_until(0.01);  // partitions created
  for (int i = 0; i < 4; ++i)
    b.submit(RunRequest{.model = kModels[i], .batch = batch, .partition = partitioned ? i : 0});
  // Plans are lowered on first use: one warm-up slice keeps that out of the measurement.
  const double slice = 0.25;  // simulated seconds per iteration
  auto serve = [&](double until) {
    int64_t runs = 0;
    while (auto c = b.run_until(until)) {
      ++runs;
      b.submit(RunRequest{.model = c->request.model, .batch = batch, .partition = c->request.partition});
    }
    return runs;
  };
  serve(b.now() + slice);
  double simulated = 0;
  int64_t runs = 0;
  const uint64_t events0 = b.events();
  for (auto _ : state) {
    const double t0 = b.now();
    runs += serve(t0 + slice);
    simulated += b.now() - t0;
  }
  state.counters["sim_s_per_wall_s"] = benchmark::Counter(simulated, benchmark::Counter::kIsRate);
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(b.events() - events0), benchmark::Counter::kIsRate);
  state.counters["batches_per_sim_s"] = static_cast<double>(runs) / simulated;
  // Of the runs started in replay (fast mode), the fraction that fell back to events.
  if (b.replayed_runs() > 0)
    state.counters["fallback"] = static_cast<double>(b.materialized_runs()) / static_cast<double>(b.replayed_runs());
  state.SetLabel(std::string(sim::sim_mode_name(mode)) + (partitioned ? ", 4 partitions" : ", shared GPU") +
                 ", batch " + std::to_string(batch) + (mode == sim::SimMode::fast && !replay ? ", replay off" : "") +
                 ", simulated h100_sxm");
}

// Args: mode (0 fast, 1 block), batch, partitioned, replay (fast mode: Engine::set_replay).
BENCHMARK(BM_FourModelsFourPartitions)
    ->Args({0, 8, 1, 1})
    ->Args({0, 8, 1, 0})
    ->Args({1, 8, 1, 1})
    ->Args({0, 1, 1, 1})
    ->Args({0, 1, 1, 0})
    ->Args({1, 1, 1, 1})
    ->Args({0, 8, 0, 1})
    ->Args({0, 8, 0, 0})
    ->Args({1, 8, 0, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
