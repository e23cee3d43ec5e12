// The host cost of one dispatch on the simulator: through the backend alone (submit, then collect
// the completion) and through the whole serving loop (a request arrives, the policy decides, the
// loop submits and collects), per dispatch. bench_dispatch_gpu measures the same on a GPU.
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>

#include "bench/dispatch_cost.h"
#include "models/zoo.h"
#include "runtime/sched/registry.h"
#include "runtime/serve/arrivals.h"
#include "runtime/serve/serve_loop.h"
#include "runtime/sim/sim_backend.h"

namespace {

using namespace dstack;

const sim::DeviceSpec& h100() {
  static const sim::DeviceSpec d = sim::load_device("h100_sxm");
  return d;
}

std::shared_ptr<const models::Graph> shape(const std::string& name) {
  return std::make_shared<const models::Graph>(models::build_zoo_model(name, models::BuildOptions{.weights = false}).graph);
}

void BM_BackendDispatch(benchmark::State& state) {
  const DispatchMode mode = state.range(0) == 0 ? DispatchMode::graph : DispatchMode::per_kernel;
  sim::SimBackend b(h100(), sim::SimMode::fast);
  b.add_model("mobilenet_v2", shape("mobilenet_v2"));
  bench::measure_dispatch(state, b, "mobilenet_v2", mode);
}
BENCHMARK(BM_BackendDispatch)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// Requests 5 ms apart, each dispatched alone by triton (max_queue_delay 0): the loop's and the
// policy's host time per dispatch, with the simulator behind them.
void BM_LoopDispatch(benchmark::State& state) {
  const std::string policy_name = "triton";
  const auto graph = shape("mobilenet_v2");
  const std::vector<std::string> names = {"mobilenet_v2"};
  const sched::ParallelismOracle oracle(h100(), {graph}, names, kernels::Precision::F32);
  sched::PolicyContext ctx;
  ctx.oracle = &oracle;
  ctx.models.push_back({"mobilenet_v2", 0.010, 200, false, 4096});
  ctx.options = {{"max_queue_delay_ms", 0}};
  serve::ArrivalSpec spec;
  spec.kind = serve::ArrivalKind::Constant;
  spec.rate_rps = 200;
  const double duration = 1.0;
  const std::vector<std::vector<double>> arrivals = {serve::generate_arrivals(spec, duration, 1)};
  int64_t runs = 0;
  double host_s = 0;  // serve() alone, without making the backend and policy
  for (auto _ : state) {
    sim::SimBackend b(h100(), sim::SimMode::fast);
    b.add_model("mobilenet_v2", graph);
    auto policy = sched::make_policy(policy_name);
    const auto t0 = std::chrono::steady_clock::now();
    runs += static_cast<int64_t>(serve::serve(b, *policy, ctx, arrivals, {duration, 0.05, policy_name, 0}).runs.size());
    host_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  state.counters["dispatches_per_iteration"] = static_cast<double>(runs) / static_cast<double>(state.iterations());
  state.counters["host_us_per_dispatch"] = runs > 0 ? 1e6 * host_s / static_cast<double>(runs) : 0;
  state.SetLabel("triton, mobilenet_v2 at 200 req/s for 1 s, simulated h100_sxm");
}
BENCHMARK(BM_LoopDispatch)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
