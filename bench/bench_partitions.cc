// What re-sizing a model's SM partition costs. From scratch: query the SM resource, split it, create
// a green context and its stream (what a runtime without held layouts pays on every re-size).
// dstack's way: the contexts exist already and re-sizing is launching into another stream; the
// alternating/same pair shows what that switch adds to a launch-and-wait.
#include <benchmark/benchmark.h>

#include "runtime/backend/cuda/green_context.h"
#include "runtime/backend/cuda/partition_pool.h"
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

// Re-sizing with held layouts: two layouts (one partition of `unit` SMs, one of 4 x unit) held by a
// PartitionPool; each iteration moves the work to the other layout's partition. Compare with
// BM_HoldNewLayout, what a runtime that creates the new layout on every re-size pays.
void BM_ResizeBySwitchingHeldLayouts(benchmark::State& state) {
  if (skip_without_green_contexts(state)) return;
  const int unit = report().devices[0].green_contexts->split_group_sms;
  dstack::cuda::PartitionPool pool(0);
  const int small = pool.hold(dstack::PartitionLayout{{unit}});
  const int large = pool.hold(dstack::PartitionLayout{{4 * unit}});
  dstack::cuda::DeviceBuffer out(sizeof(unsigned));
  std::size_t i = 0;
  for (auto _ : state) {
    cudaStream_t s = pool.stream((i++ % 2) ? large : small, 0);
    dstack::cuda::launch_record_sm_ids(out.as<unsigned>(), 1, 0, s);
    DSTACK_CUDA_CHECK(cudaStreamSynchronize(s));
  }
  state.SetLabel("launch-and-wait, alternating between two held layouts");
}
BENCHMARK(BM_ResizeBySwitchingHeldLayouts)->Unit(benchmark::kMicrosecond);

// Creating a layout of range(0) partitions of one split group each, then launching into it.
void BM_HoldNewLayout(benchmark::State& state) {
  if (skip_without_green_contexts(state)) return;
  const int unit = report().devices[0].green_contexts->split_group_sms;
  const dstack::PartitionLayout layout{std::vector<int>(static_cast<size_t>(state.range(0)), unit)};
  dstack::cuda::DeviceBuffer out(sizeof(unsigned));
  for (auto _ : state) {
    dstack::cuda::PartitionPool pool(0);
    const int id = pool.hold(layout);
    dstack::cuda::launch_record_sm_ids(out.as<unsigned>(), 1, 0, pool.stream(id, 0));
    DSTACK_CUDA_CHECK(cudaStreamSynchronize(pool.stream(id, 0)));
  }
  state.counters["partitions"] = static_cast<double>(state.range(0));
  state.SetLabel("query + split + create contexts and streams + launch-and-wait");
}
BENCHMARK(BM_HoldNewLayout)->Arg(1)->Arg(2)->Arg(4)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
