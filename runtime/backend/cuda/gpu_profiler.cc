#include "runtime/backend/cuda/gpu_profiler.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "models/plan.h"
#include "models/tensor.h"
#include "runtime/backend/cuda/device_model.h"
#include "runtime/backend/cuda/driver_api.h"
#include "runtime/backend/cuda/partition_pool.h"
#include "runtime/backend/cuda/resources.h"
#include "runtime/backend/gpu_info.h"
#include "runtime/core/median.h"

namespace dstack::cuda {
namespace {

std::vector<models::Tensor> zero_inputs(const models::Graph& graph, int64_t batch) {
  std::vector<models::Tensor> inputs;
  for (int id : graph.inputs()) {
    models::Tensor t{models::full_shape(graph.value(id), batch), {}};
    t.data.assign(static_cast<std::size_t>(models::num_elements(t.shape)), 0.f);
    inputs.push_back(std::move(t));
  }
  return inputs;
}

// Every node that launches, timed alone: events between per-kernel launches, median of `repeats`.
std::vector<analysis::KernelProfileRow> time_kernels(DeviceModel& dm, const models::Plan& plan, int sms,
                                                     int repeats, cudaStream_t stream) {
  const std::size_t n = plan.kernels.size();
  std::vector<Event> marks(n + 1);
  std::vector<std::vector<double>> us(n);
  for (int r = 0; r < repeats; ++r) {
    for (std::size_t i = 0; i < n; ++i) {
      marks[i].record(stream);
      dm.enqueue_node(plan.batch, static_cast<std::size_t>(plan.kernels[i].node), stream);
    }
    marks[n].record(stream);
    marks[n].synchronize();
    for (std::size_t i = 0; i < n; ++i) us[i].push_back(1e3 * marks[i + 1].elapsed_ms_since(marks[i]));
  }
  std::vector<analysis::KernelProfileRow> rows;
  for (std::size_t i = 0; i < n; ++i)
    rows.push_back({plan.model, plan.batch, sms, plan.precision, static_cast<int>(i),
                    plan.kernels[i].launches.empty() ? std::string("-") : plan.kernels[i].launches[0].kernel,
                    median(us[i])});
  return rows;
}

}  // namespace

analysis::Profile profile_gpu(const models::Graph& graph, const std::string& model, const GpuProfileOptions& o,
                              const std::string& commit, const analysis::ProgressFn& progress) {
  driver();  // DriverUnavailable with the reason when there is no GPU
  if (o.repeats < 1 || o.warmup < 0 || o.kernel_repeats < 0)
    throw std::invalid_argument("profile: repeats must be >= 1, warmup and kernel repeats >= 0");
  const GpuReport report = probe_gpus();
  const GpuDevice& gpu = report.devices.at(0);
  PartitionPool pool(0);
  DeviceModel dm(graph, {o.precision, KernelSource::Ours});

  analysis::Profile p;
  p.provenance = {{"backend", "measured"},
                  {"simulated", false},
                  {"device", gpu.name},
                  {"driver", cuda_version_string(report.driver_version)},
                  {"sm_count", gpu.sm_count},
                  {"commit", commit},
                  {"precision", kernels::precision_name(o.precision)},
                  {"dispatch", "graph"},
                  {"warmup", o.warmup},
                  {"repeats", o.repeats},
                  {"kernel_repeats", o.kernel_repeats},
                  {"timing", "CUDA events around each graph launch; median"},
                  {"date", analysis::provenance_date()}};
  nlohmann::json skipped = nlohmann::json::array();
  const std::size_t total = o.batches.size() * o.sms.size();
  std::size_t done = 0;
  for (int requested : o.sms) {
    const int layout = pool.hold(PartitionLayout{{requested}});
    cudaStream_t stream = pool.stream(layout, 0);
    const int sms = pool.sm_count(layout, 0);
    for (std::size_t bi = 0; bi < o.batches.size(); ++bi) {
      const int64_t batch = o.batches[bi];
      try {
        dm.prepare(batch);
      } catch (const std::exception& e) {
        skipped.push_back({{"sms", sms}, {"from_batch", batch}, {"reason", e.what()}});
        done += o.batches.size() - bi;
        if (progress) progress(done, total);
        break;
      }
      dm.set_inputs(zero_inputs(graph, batch), stream);
      for (int w = 0; w < std::max(o.warmup, 1); ++w) dm.enqueue_graph(batch, stream);  // first call captures
      Event start, stop;
      std::vector<double> ms;
      for (int r = 0; r < o.repeats; ++r) {
        start.record(stream);
        dm.enqueue_graph(batch, stream);
        stop.record(stream);
        stop.synchronize();
        ms.push_back(stop.elapsed_ms_since(start));
      }
      const double med = median(ms);
      p.models.push_back({{model, batch, sms, o.precision, med},
                          *std::min_element(ms.begin(), ms.end()),
                          *std::max_element(ms.begin(), ms.end()),
                          o.repeats});
      if (o.kernel_repeats > 0) {
        models::Plan plan = models::lower(graph, batch, o.precision);
        plan.model = model;
        for (auto& row : time_kernels(dm, plan, sms, o.kernel_repeats, stream)) p.kernels.push_back(std::move(row));
      }
      if (progress) progress(++done, total);
      if (o.stop_after_ms > 0 && med > o.stop_after_ms && bi + 1 < o.batches.size()) {
        skipped.push_back({{"sms", sms},
                           {"from_batch", o.batches[bi + 1]},
                           {"reason", fmt::format("batch {} already took {:.3f} ms > {} ms", batch, med,
                                                  o.stop_after_ms)}});
        done += o.batches.size() - bi - 1;
        if (progress) progress(done, total);
        break;
      }
    }
  }
  if (!skipped.empty()) p.provenance["skipped"] = skipped;
  return p;
}

}  // namespace dstack::cuda
