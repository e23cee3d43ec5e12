#include "runtime/backend/cuda/cuda_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>

#include "models/graph.h"
#include "runtime/backend/cuda/check.h"
#include "runtime/backend/cuda/driver_api.h"
#include "runtime/backend/memory_plan.h"

namespace dstack::cuda {
namespace {

double mib(int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool has_weights(const models::Graph& g) {
  for (const models::Value& v : g.values())
    if (v.constant && !v.data) return false;
  return true;
}

// The fewest rows of any embedding table: ids below it are valid for every table.
int64_t smallest_table(const models::Graph& g) {
  int64_t rows = std::numeric_limits<int64_t>::max();
  for (const models::Node& n : g.nodes())
    if (n.op == models::OpKind::Embedding) rows = std::min(rows, g.value(n.inputs[0]).shape[0]);
  return rows == std::numeric_limits<int64_t>::max() ? 1 : rows;
}

}  // namespace

struct CudaServingDevice::Resident {
  std::string name;
  std::shared_ptr<const models::Graph> graph;
  std::unique_ptr<DeviceModel> model;
  std::vector<PinnedBuffer> inputs;
  std::vector<const float*> input_ptrs;
};

CudaServingDevice::CudaServingDevice(std::vector<CudaServingModel> models, CudaServingOptions options)
    : options_(options), pool_(options.device) {
  const auto t0 = std::chrono::steady_clock::now();
  if (options_.max_batch < 1)
    throw std::invalid_argument(fmt::format("max batch must be at least 1 (got {})", options_.max_batch));
  const GpuReport report = probe_gpus();
  if (!report.usable()) throw DriverUnavailable(report.unavailable_reason);
  if (options_.device < 0 || options_.device >= static_cast<int>(report.devices.size()))
    throw std::invalid_argument(fmt::format("GPU {} does not exist; the driver reports {}", options_.device,
                                            report.devices.size()));
  gpu_ = report.devices[static_cast<std::size_t>(options_.device)];
  driver_version_ = report.driver_version;

  std::set<std::string> names;
  std::vector<DeviceModelBytes> need;
  int64_t total = 0;
  for (const CudaServingModel& m : models) {
    if (!m.graph) throw std::invalid_argument(fmt::format("model '{}': no graph", m.name));
    if (!names.insert(m.name).second) throw std::invalid_argument(fmt::format("model '{}' is named twice", m.name));
    if (!has_weights(*m.graph))
      throw std::invalid_argument(fmt::format("model '{}' has no weights; the GPU needs a graph built with them",
                                              m.name));
    need.push_back(device_model_bytes(*m.graph, options_.precision, options_.max_batch));
    total += need.back().total();
  }
  DSTACK_CUDA_CHECK(cudaSetDevice(options_.device));
  size_t free_bytes = 0, total_bytes = 0;
  DSTACK_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  if (total > static_cast<int64_t>(free_bytes)) {
    std::string each;
    for (std::size_t i = 0; i < models.size(); ++i)
      each += fmt::format("\n  {}: weights {:.1f} MiB + arena for batches 1-{} {:.1f} MiB + staging {:.1f} MiB = {:.1f} MiB",
                          models[i].name, mib(need[i].weights), options_.max_batch, mib(need[i].arena),
                          mib(need[i].staging), mib(need[i].total()));
    throw std::invalid_argument(fmt::format(
        "the experiment does not fit in {}'s memory at {}: it needs {:.1f} MiB, {:.1f} MiB of {:.1f} MiB are free:{}\n"
        "serve fewer models, a lower precision, or a smaller max batch",
        gpu_.name, kernels::precision_name(options_.precision), mib(total), mib(static_cast<int64_t>(free_bytes)),
        mib(static_cast<int64_t>(total_bytes)), each));
  }

  auto cannot_run = [this](const std::string& model, const std::exception& e) {
    return std::invalid_argument(fmt::format("model '{}' cannot run on the GPU at {}: {}; serve it at another "
                                             "precision or leave it out",
                                             model, kernels::precision_name(options_.precision), e.what()));
  };
  Stream warm;
  std::mt19937_64 rng(options_.seed);
  for (CudaServingModel& m : models) {
    auto r = std::make_unique<Resident>();
    r->name = m.name;
    r->graph = std::move(m.graph);
    const models::Graph& g = *r->graph;
    try {
      r->model = std::make_unique<DeviceModel>(
          g, DeviceModelOptions{options_.precision, KernelSource::Ours, options_.max_batch});
      const std::vector<bool> ids = float32_values(g);
      const int64_t rows = smallest_table(g);
      // Values in [-1, 1) from the top 24 bits (std::*_distribution differs between libraries).
      auto value = [&rng] { return static_cast<float>(rng() >> 40) * 0x1p-23f - 1.f; };
      for (int id : g.inputs()) {
        const int64_t n = models::num_elements(models::full_shape(g.value(id), options_.max_batch));
        PinnedBuffer buf(sizeof(float) * static_cast<std::size_t>(n));
        float* p = buf.as<float>();
        for (int64_t i = 0; i < n; ++i)
          p[i] = ids[static_cast<std::size_t>(id)] ? static_cast<float>(rng() % static_cast<uint64_t>(rows)) : value();
        r->input_ptrs.push_back(p);
        r->inputs.push_back(std::move(buf));
      }
      // Every batch once, per kernel: modules load and first launches happen here, not while serving.
      for (int64_t b = 1; b <= options_.max_batch; ++b) {
        r->model->upload_inputs(b, r->input_ptrs, warm.get());
        r->model->warm_up(b, warm.get());
      }
    } catch (const models::GraphError& e) {  // an op the CUDA kernels do not implement
      throw cannot_run(m.name, e);
    } catch (const std::invalid_argument& e) {  // a shape or size a kernel's launcher refuses
      throw cannot_run(m.name, e);
    }
    models_.push_back(std::move(r));
  }
  size_t free_now = 0;
  DSTACK_CUDA_CHECK(cudaMemGetInfo(&free_now, &total_bytes));
  free_after_ = static_cast<int64_t>(free_now);
  resident_bytes_ = static_cast<int64_t>(free_bytes) - free_after_;
  setup_s_ = seconds_since(t0);
}

CudaServingDevice::~CudaServingDevice() = default;

int CudaServingDevice::model_index(const std::string& name) const {
  for (std::size_t i = 0; i < models_.size(); ++i)
    if (models_[i]->name == name) return static_cast<int>(i);
  std::string known;
  for (const auto& m : models_) known += (known.empty() ? "" : ", ") + m->name;
  throw std::invalid_argument(fmt::format("model '{}' is not resident on the GPU (resident: {})", name,
                                          known.empty() ? "none" : known));
}

const std::string& CudaServingDevice::model_name(int m) const { return models_.at(static_cast<std::size_t>(m))->name; }
DeviceModel& CudaServingDevice::model(int m) { return *models_.at(static_cast<std::size_t>(m))->model; }
const std::vector<const float*>& CudaServingDevice::host_inputs(int m) const {
  return models_.at(static_cast<std::size_t>(m))->input_ptrs;
}

// ---- CudaBackend ---------------------------------------------------------------------------------

// A stream's reference point: an event recorded while the stream was idle, and the wall time then.
struct CudaBackend::StreamClock {
  cudaStream_t stream = nullptr;
  Event reference;
  double wall_s = 0;
};

struct CudaBackend::Run {
  RunId id = 0;
  RunRequest request;
  int model = 0;
  double submitted_s = 0;
  int partition_sms = 0;
  StreamClock* clock = nullptr;
  std::unique_ptr<Event> start, end;
  double finished_s = 0;  // once poll() saw the end event
  bool finished = false;
};

CudaBackend::CudaBackend(std::shared_ptr<CudaServingDevice> device)
    : device_(std::move(device)), clock_(device_ ? device_->options().clock : WallClock::Options{}) {
  if (!device_) throw std::invalid_argument("CUDA backend: no device");
  model_busy_.assign(static_cast<std::size_t>(device_->models()), false);
  report_.waiting = fmt::format("polls the runs' CUDA end events every {:.0f} us, sleeping in between",
                                clock_.options().poll_s * 1e6);
  set_layout(PartitionLayout{{granularity().sm_count}});
}

CudaBackend::~CudaBackend() {
  // Runs still in flight own events the device is about to signal: wait for them before freeing.
  for (const auto& r : runs_) cudaEventSynchronize(r->end->get());
}

std::string CudaBackend::describe() const {
  return fmt::format("{} ({} SMs, driver {}), green-context partitions, {} graphs captured ahead", device_->gpu().name,
                     device_->gpu().sm_count, cuda_version_string(device_->driver_version()), prepared_graphs_);
}

void CudaBackend::add_model(const std::string& name, std::shared_ptr<const models::Graph> /*graph*/) {
  device_->model_index(name);  // throws for a model that is not resident
}

CudaBackend::StreamClock& CudaBackend::stream_clock(cudaStream_t stream) {
  for (auto& c : clocks_)
    if (c->stream == stream) return *c;
  // The stream is idle here (a new layout, or a model without a run in flight), so the event
  // completes within microseconds of being recorded: the wall time after it did bounds its time.
  auto c = std::make_unique<StreamClock>();
  c->stream = stream;
  c->reference.record(stream);
  c->reference.synchronize();
  c->wall_s = clock_.now();
  clocks_.push_back(std::move(c));
  return *clocks_.back();
}

int CudaBackend::hold(const PartitionLayout& layout) {
  PartitionPool& pool = device_->pool();
  const int id = pool.hold(layout);  // std::invalid_argument for a layout the device cannot hold
  for (int p = 0; p < pool.partitions(id); ++p)
    for (int m = 0; m < device_->models(); ++m) stream_clock(pool.lane(id, p, m));
  return id;
}

ResolvedLayout CudaBackend::set_layout(const PartitionLayout& layout) {
  if (!runs_.empty())
    throw std::logic_error(fmt::format("{} runs are in flight; wait for them before changing the partition layout",
                                       runs_.size()));
  ResolvedLayout next = resolve_layout(layout, granularity());
  layout_id_ = hold(layout);
  layout_ = std::move(next);
  return layout_;
}

void CudaBackend::prepare(const PartitionLayout& layout) {
  if (!runs_.empty()) throw std::logic_error("prepare: runs are in flight; prepare before serving");
  const auto t0 = std::chrono::steady_clock::now();
  const int id = hold(layout);
  PartitionPool& pool = device_->pool();
  for (int m = 0; m < device_->models(); ++m)
    for (int p = 0; p < pool.partitions(id); ++p) {
      cudaStream_t s = pool.lane(id, p, m);
      for (int64_t b = 1; b <= device_->options().max_batch; ++b)
        prepared_graphs_ += device_->model(m).capture_graph(b, s) ? 1 : 0;
    }
  DSTACK_CUDA_CHECK(cudaDeviceSynchronize());
  prepare_s_ += seconds_since(t0);
}

RunId CudaBackend::submit(const RunRequest& r) {
  const int parts = static_cast<int>(layout_.partitions.size());
  if (r.partition < 0 || r.partition >= parts)
    throw std::invalid_argument(
        fmt::format("partition {} does not exist; the layout has {} (0..{})", r.partition, parts, parts - 1));
  const int64_t max_batch = device_->options().max_batch;
  if (r.batch < 1 || r.batch > max_batch)
    throw std::invalid_argument(fmt::format("batch {} of '{}' is outside 1..{}, the batches the GPU's arenas and "
                                            "graphs were prepared for",
                                            r.batch, r.model, max_batch));
  if (r.precision != device_->options().precision)
    throw std::invalid_argument(fmt::format("'{}' is resident at {}, not {}", r.model,
                                            kernels::precision_name(device_->options().precision),
                                            kernels::precision_name(r.precision)));
  const int m = device_->model_index(r.model);
  if (model_busy_[static_cast<std::size_t>(m)])
    throw std::logic_error(fmt::format("'{}' already has a run in flight; its arena holds one batch at a time", r.model));
  PartitionPool& pool = device_->pool();
  cudaStream_t stream = pool.lane(layout_id_, r.partition, m);
  DeviceModel& dm = device_->model(m);
  if (r.dispatch == DispatchMode::graph && !dm.has_graph(r.batch, stream)) {
    const double t = clock_.now();
    dm.capture_graph(r.batch, stream);
    report_.capture_at_s.push_back(t);
    report_.capture_s += clock_.now() - t;
  }
  auto run = std::make_unique<Run>();
  run->id = next_id_++;
  run->request = r;
  run->model = m;
  run->partition_sms = pool.sm_count(layout_id_, r.partition);
  run->clock = &stream_clock(stream);
  for (auto* e : {&run->start, &run->end}) {
    if (spare_events_.empty()) {
      *e = std::make_unique<Event>();
    } else {
      *e = std::move(spare_events_.back());
      spare_events_.pop_back();
    }
  }
  run->submitted_s = clock_.now();
  run->start->record(stream);
  if (device_->options().copy_inputs) dm.upload_inputs(r.batch, device_->host_inputs(m), stream);
  if (r.dispatch == DispatchMode::graph) {
    dm.enqueue_graph(r.batch, stream);
  } else {
    dm.enqueue(r.batch, stream);
  }
  run->end->record(stream);
  model_busy_[static_cast<std::size_t>(m)] = true;
  runs_.push_back(std::move(run));
  return runs_.back()->id;
}

double CudaBackend::event_wall_s(const StreamClock& ref, const Event& e) const {
  return ref.wall_s + 1e-3 * static_cast<double>(e.elapsed_ms_since(ref.reference));
}

bool CudaBackend::poll() {
  done_.reset();
  for (std::size_t i = 0; i < runs_.size(); ++i) {
    Run& r = *runs_[i];
    if (!r.finished) {
      const cudaError_t q = cudaEventQuery(r.end->get());
      if (q == cudaErrorNotReady) {
        // Not an error, but the runtime may keep it as the last error, which the next kernel
        // launcher's cudaGetLastError() check would then report (PyTorch clears it the same way).
        (void)cudaGetLastError();
        continue;
      }
      DSTACK_CUDA_CHECK(q);
      r.finished = true;
      r.finished_s = event_wall_s(*r.clock, *r.end);
    }
    // The earliest finish first; ties in submission order (runs_ is in it).
    if (!done_ || r.finished_s < runs_[*done_]->finished_s) done_ = i;
  }
  return done_.has_value();
}

std::optional<RunCompletion> CudaBackend::run_until(double until_s) {
  if (runs_.empty() && std::isinf(until_s)) return std::nullopt;  // nothing could ever finish
  if (!clock_.wait_until(until_s, [this] { return poll(); })) {
    report_.wake_after_deadline_s.push_back(clock_.now() - until_s);
    return std::nullopt;
  }
  const double woke = clock_.now();
  std::unique_ptr<Run> r = std::move(runs_[*done_]);
  runs_.erase(runs_.begin() + static_cast<std::ptrdiff_t>(*done_));
  done_.reset();
  RunCompletion c;
  c.id = r->id;
  c.request = r->request;
  c.submitted_s = r->submitted_s;
  // The reference event bounds the mapping to within a record-and-sync (microseconds); keep the
  // order the clock must show: submitted <= started <= finished <= now.
  c.started_s = std::clamp(event_wall_s(*r->clock, *r->start), r->submitted_s, woke);
  c.finished_s = std::clamp(r->finished_s, c.started_s, woke);
  c.partition_sms = r->partition_sms;
  report_.wake_after_completion_s.push_back(woke - c.finished_s);
  model_busy_[static_cast<std::size_t>(r->model)] = false;
  spare_events_.push_back(std::move(r->start));
  spare_events_.push_back(std::move(r->end));
  return c;
}

}  // namespace dstack::cuda
