#pragma once
// One dispatch measured on any Backend, shared by bench_dispatch (simulator) and bench_dispatch_gpu
// (CUDA): each iteration submits one run of a model at batch 1 on partition 0 and collects it. The
// iteration's time is the host time of that submit-and-collect; counters say how long submit() itself
// took on the host, how long from submit() until the run began on the backend's clock (the GPU: its
// start event, i.e. the inputs' copy and first kernel), and how long the run took.
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>

#include "runtime/backend/backend.h"

namespace dstack::bench {

inline void measure_dispatch(benchmark::State& state, Backend& b, const std::string& model, DispatchMode mode) {
  double submit_s = 0, to_start_s = 0, run_s = 0;
  int64_t n = 0;
  const RunRequest req{.model = model, .batch = 1, .partition = 0, .dispatch = mode};
  for (int i = 0; i < 3; ++i) {  // first runs capture graphs and lower plans: not a dispatch's cost
    b.submit(req);
    b.run_until(b.now() + 10);
  }
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    b.submit(req);
    const auto t1 = std::chrono::steady_clock::now();
    const auto c = b.run_until(b.now() + 10);
    if (!c) {
      state.SkipWithError("a batch-1 run did not finish within 10 s");
      return;
    }
    submit_s += std::chrono::duration<double>(t1 - t0).count();
    to_start_s += c->started_s - c->submitted_s;
    run_s += c->finished_s - c->started_s;
    ++n;
  }
  const double k = n > 0 ? 1e6 / static_cast<double>(n) : 0;
  state.counters["submit_host_us"] = submit_s * k;
  state.counters["submit_to_start_us"] = to_start_s * k;
  state.counters["run_us"] = run_s * k;
  if (const auto r = b.wall_clock_report(); r && !r->wake_after_completion_s.empty()) {
    double late = 0;
    for (double x : r->wake_after_completion_s) late += x;
    state.counters["wake_after_completion_us"] = 1e6 * late / static_cast<double>(r->wake_after_completion_s.size());
  }
  state.SetLabel(model + " batch 1, " + dispatch_mode_name(mode) + ", " + b.describe());
}

}  // namespace dstack::bench
