// Whole-model latency on the GPU: dstack's kernels vs the vendor backend (cuDNN/cuBLAS where they
// cover a node), by model, batch, precision and partition size, each a CUDA graph launch timed with
// CUDA events after warm-up. The (batch, SMs) sweep is the short profile gpu-check records; the
// ours/vendor pairs are the whole-model reference ratios. JSON through --benchmark_out.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <random>
#include <string>

#include "models/zoo.h"
#include "runtime/backend/cuda/device_model.h"
#include "runtime/backend/cuda/partition_pool.h"
#include "runtime/backend/cuda/resources.h"
#include "runtime/backend/gpu_info.h"

namespace {

using dstack::cuda::DeviceModel;
using dstack::cuda::KernelSource;
using dstack::kernels::Precision;

const dstack::GpuReport& report() {
  static const dstack::GpuReport r = dstack::probe_gpus();
  return r;
}

const char* kModels[] = {"resnet50", "mobilenet_v2", "inception_v3", "bert_base"};
const Precision kPrecisions[] = {Precision::F32, Precision::F16, Precision::BF16};

// Built once per process: random weights for a large model take seconds.
const dstack::models::Model& model(int index) {
  static std::map<int, dstack::models::Model> cache;
  auto it = cache.find(index);
  if (it == cache.end()) it = cache.emplace(index, dstack::models::build_zoo_model(kModels[index], 1)).first;
  return it->second;
}

dstack::models::Tensor input(const dstack::models::Model& m, int64_t batch) {
  const dstack::models::Value& v = m.graph.value(m.graph.inputs().at(0));
  dstack::models::Tensor x{dstack::models::full_shape(v, batch), {}};
  x.data.resize(static_cast<size_t>(dstack::models::num_elements(x.shape)));
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> id(0, 1000);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  const bool ids = v.name.find("id") != std::string::npos;
  for (float& f : x.data) f = ids ? static_cast<float>(id(rng)) : u(rng);
  return x;
}

dstack::cuda::PartitionPool& pool() {
  static dstack::cuda::PartitionPool p(0);
  return p;
}

// range(0): model index, (1): batch, (2): precision index, (3): 0 ours / 1 vendor, (4): SMs (0 = all)
void BM_Model(benchmark::State& state) {
  if (!report().usable()) {
    state.SkipWithError(("no GPU: " + report().unavailable_reason).c_str());
    return;
  }
  const dstack::models::Model& m = model(static_cast<int>(state.range(0)));
  const int64_t batch = state.range(1);
  const Precision precision = kPrecisions[state.range(2)];
  const KernelSource source = state.range(3) == 1 ? KernelSource::Vendor : KernelSource::Ours;
  const int sms = static_cast<int>(state.range(4));
  try {
    DeviceModel dm(m.graph, {precision, source});
    cudaStream_t stream = nullptr;
    std::unique_ptr<dstack::cuda::Stream> own;
    int used_sms = report().devices[0].sm_count;
    if (sms > 0) {
      const int layout = pool().hold(dstack::PartitionLayout{{sms}});
      stream = pool().stream(layout, 0);
      used_sms = pool().sm_count(layout, 0);
    } else {
      own = std::make_unique<dstack::cuda::Stream>();
      stream = own->get();
    }
    dm.set_inputs({input(m, batch)}, stream);
    for (int i = 0; i < 3; ++i) dm.enqueue_graph(batch, stream);  // capture + warm-up
    DSTACK_CUDA_CHECK(cudaStreamSynchronize(stream));
    dstack::cuda::Event start, stop;
    for (auto _ : state) {
      start.record(stream);
      dm.enqueue_graph(batch, stream);
      stop.record(stream);
      stop.synchronize();
      state.SetIterationTime(stop.elapsed_ms_since(start) / 1e3);
    }
    state.counters["batch"] = static_cast<double>(batch);
    state.counters["sms"] = used_sms;
    state.counters["vendor_nodes"] = dm.vendor_nodes();
    state.counters["our_nodes"] = dm.our_nodes();
    state.counters["activation_MiB"] = static_cast<double>(dm.prepare(batch).activation_bytes) / (1 << 20);
    state.counters["samples_per_s"] =
        benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel(std::string(kModels[state.range(0)]) + " " + dstack::kernels::precision_name(precision) + " " +
                   dstack::cuda::kernel_source_name(source));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// Ours vs vendor for every model at batches 1 and 8, fp32 on the whole GPU (the vendor backend is
// fp32); ours at fp16/bf16 too.
void whole_gpu(benchmark::internal::Benchmark* b) {
  for (int m = 0; m < 4; ++m)
    for (int batch : {1, 8}) {
      for (int p = 0; p < 3; ++p) b->Args({m, batch, p, 0, 0});
      b->Args({m, batch, 0, 1, 0});
    }
}
BENCHMARK(BM_Model)->Name("model/whole_gpu")->Apply(whole_gpu)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(0.2);

// The short profile: latency by batch and partition size (the knee's raw material), ours, fp32.
void profile(benchmark::internal::Benchmark* b) {
  for (int m : {0, 1})
    for (int batch : {1, 4, 16})
      for (int sms : {8, 16, 32, 64, 120}) b->Args({m, batch, 0, 0, sms});
}
BENCHMARK(BM_Model)->Name("model/profile")->Apply(profile)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(0.1);

}  // namespace

BENCHMARK_MAIN();
