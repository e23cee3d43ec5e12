// The host cost of one dispatch on the GPU (CudaBackend): submit() on the host, submit() to the
// run's start event (the input copy and first kernel), the run, and how late the backend's polling
// noticed the end; graph and per-kernel dispatch, on the whole GPU and in a green-context
// partition. Reports an error, not a number, where no GPU is usable.
#include <benchmark/benchmark.h>

#include <memory>

#include "bench/dispatch_cost.h"
#include "models/zoo.h"
#include "runtime/backend/cuda/cuda_backend.h"
#include "runtime/backend/gpu_info.h"

namespace {

using namespace dstack;

std::shared_ptr<cuda::CudaServingDevice> device() {
  static std::shared_ptr<cuda::CudaServingDevice> d = [] {
    cuda::CudaServingOptions o;
    o.max_batch = 1;
    return std::make_shared<cuda::CudaServingDevice>(
        std::vector<cuda::CudaServingModel>{
            {"mobilenet_v2", std::make_shared<const models::Graph>(models::build_zoo_model("mobilenet_v2", {}).graph)}},
        o);
  }();
  return d;
}

void BM_GpuDispatch(benchmark::State& state) {
  static const GpuReport report = probe_gpus();
  if (!report.usable()) return state.SkipWithError(("no GPU: " + report.unavailable_reason).c_str());
  if (!report.devices[0].green_contexts)
    return state.SkipWithError(("no green contexts: " + report.devices[0].green_context_error).c_str());
  const DispatchMode mode = state.range(0) == 0 ? DispatchMode::graph : DispatchMode::per_kernel;
  cuda::CudaBackend b(device());
  const int sms = state.range(1) == 0 ? report.devices[0].sm_count : 4 * report.devices[0].green_contexts->split_group_sms;
  b.set_layout(PartitionLayout{{sms}});
  bench::measure_dispatch(state, b, "mobilenet_v2", mode);
  state.counters["sms"] = sms;
}
// Args: dispatch (0 graph, 1 per kernel), partition (0 the whole GPU, 1 four split groups).
BENCHMARK(BM_GpuDispatch)->Args({0, 0})->Args({1, 0})->Args({0, 1})->Args({1, 1})->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
