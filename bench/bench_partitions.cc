// What re-sizing a model's SM partition costs: creating a green context (and its stream) for the new
// size, versus launching into a stream of a context that already exists (dstack's approach: hold
// several layouts, re-size by choosing another stream).
#include <benchmark/benchmark.h>

#include "runtime/backend/cuda/green_context.h"
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

// Create (and destroy) a partition of `range(0)` SMs: context, stream and the SM query.
void BM_CreateGreenPartition(benchmark::State& state) {
  if (skip_without_green_contexts(state)) return;
  const int sms = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto parts = dstack::cuda::make_disjoint_partitions(0, {sms});
    benchmark::DoNotOptimize(parts.data());
  }
  state.counters["sms"] = sms;
}
BENCHMARK(BM_CreateGreenPartition)->Arg(8)->Arg(32)->Arg(64)->Unit(benchmark::kMicrosecond);

// One-block launch and wait, alternating between two existing partitions (range(0) = 1) or staying
// on one (range(0) = 0): the difference is what switching partitions costs at dispatch.
void BM_LaunchAlternatingPartitions(benchmark::State& state) {
  if (skip_without_green_contexts(state)) return;
  const int unit = report().devices[0].green_contexts->partition_sizes.front();
  auto parts = dstack::cuda::make_disjoint_partitions(0, {unit, 2 * unit});
  const bool alternate = state.range(0) == 1;
  std::size_t i = 0;
  for (auto _ : state) {
    auto ids = dstack::cuda::record_sm_ids(parts[alternate ? (i++ % 2) : 0].stream(), 1, 0);
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetLabel(alternate ? "alternating partitions" : "same partition");
}
BENCHMARK(BM_LaunchAlternatingPartitions)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
