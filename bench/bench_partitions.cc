// What re-sizing a model's SM partition costs. From scratch: query the SM resource, split it, create
// a green context and its stream (what a runtime without held layouts pays on every re-size).
// dstack's way: the contexts exist already and re-sizing is launching into another stream; the
// alternating/same pair shows what that switch adds to a launch-and-wait.
#include <benchmark/benchmark.h>

#include "runtime/backend/cuda/green_context.h"
#include "runtime/backend/cuda/resources.h"
#include "runtime/backend/cuda/sm_id_probe.h"
#include "runtime/backend/gpu_info.h"

namespace {

const dstack::GpuReport& report() {
  static const dstack::GpuReport r = dstack::probe_gpus();
  return r;
}

bool skip_without_green_contexts(benchmark::State& state) {
  if (!report().usable()) {
    state.SkipWithError(("no GPU: " + report().unavailable_reason).c_str());
    return true;
  }
  if (!report().devices[0].green_contexts) {
    state.SkipWithError(("no green contexts: " + report().devices[0].green_context_error).c_str());
    return true;
  }
  return false;
}

void BM_CreatePartitionFromScratch(benchmark::State& state) {
  if (skip_without_green_contexts(state)) return;
  const int sms = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto parts = dstack::cuda::make_disjoint_partitions(0, {sms});
    benchmark::DoNotOptimize(parts.data());
  }
  state.counters["sms"] = sms;
}
BENCHMARK(BM_CreatePartitionFromScratch)->Arg(8)->Arg(32)->Arg(64)->Unit(benchmark::kMicrosecond);

// A one-block kernel launched and waited for, on one existing partition (range(0) = 0) or
// alternating between two (range(0) = 1).
void BM_LaunchOnExistingPartitions(benchmark::State& state) {
  if (skip_without_green_contexts(state)) return;
  const int unit = report().devices[0].green_contexts->split_group_sms;
  auto parts = dstack::cuda::make_disjoint_partitions(0, {unit, 2 * unit});
  dstack::cuda::DeviceBuffer out(sizeof(unsigned));
  const bool alternate = state.range(0) == 1;
  std::size_t i = 0;
  for (auto _ : state) {
    cudaStream_t s = parts[alternate ? (i++ % 2) : 0].stream();
    dstack::cuda::launch_record_sm_ids(out.as<unsigned>(), 1, 0, s);
    DSTACK_CUDA_CHECK(cudaStreamSynchronize(s));
  }
  state.SetLabel(alternate ? "alternating partitions" : "same partition");
}
BENCHMARK(BM_LaunchOnExistingPartitions)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
