// Kernel latency, dstack's CUDA kernels (kernels/*_cuda.h) against the vendor backend (cuDNN /
// cuBLAS, runtime/backend/cuda/vendor_ops.h) on the same GPU in the same run, for representative
// layers taken from the zoo's plans: ResNet-50's distinct convolutions, one depthwise (MobileNetV2)
// and one grouped (ResNeXt-50 32x4d) convolution, BERT-base's GEMMs and attention batched matmuls,
// at batches 1, 8 and 32.
//
// Each benchmark times both implementations with CUDA events (warm-up first, then enough launches
// back to back to fill about 2 ms per measurement, kMeasurements of them) and reports, for ours and the vendor: ms, TFLOP/s,
// GB/s and their fractions of the device's peaks (bench/device_peak.h), and ours_over_vendor (> 1:
// ours is slower). The benchmark's own time is ours (manual time). JSON: --benchmark_out=FILE
// --benchmark_out_format=json (tools/run-bench.sh does this). Without a GPU it prints one line,
// "no GPU: <reason>", and exits 0.
//
// Precision: fp32 today; Precision is part of every case's name and key, so fp16 / bf16 rows join
// by adding the precision to kPrecisions once both sides run at it.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/device_peak.h"
#include "kernels/conv2d_cuda.h"
#include "kernels/gemm_cuda.h"
#include "kernels/precision.h"
#include "models/graph.h"
#include "models/node_args.h"
#include "models/plan.h"
#include "models/zoo.h"
#include "runtime/backend/cuda/check.h"
#include "runtime/backend/cuda/resources.h"
#include "runtime/backend/gpu_info.h"
#ifdef DSTACK_HAVE_VENDOR
#include "runtime/backend/cuda/vendor_ops.h"
#endif

namespace {

using namespace dstack;
using models::Node;
using models::OpKind;
using models::Shape;
using models::TensorView;

constexpr int64_t kBatches[] = {1, 8, 32};
constexpr kernels::Precision kPrecisions[] = {kernels::Precision::F32};
constexpr int kWarmupLaunches = 10;
constexpr double kTargetWindowMs = 2.0;  // launches per measurement fill about this much GPU time
constexpr int kMaxLaunchesPerWindow = 1000;
// Measurements per benchmark, fixed: each one is a window of launches of ours and the vendor's (~4 ms
// of GPU time) but reports one launch's time, so a MinTime in manual time would run thousands of
// windows per layer (an H100 gpu-check spent over four minutes on four layers that way).
constexpr int kMeasurements = 20;

// One layer to time: a plan launch of a zoo model (node, full shapes, FLOPs, bytes at the batch).
struct Layer {
  std::string name;  // "resnet50/layer1.0.conv2"
  std::string note;  // what was changed for the comparison, if anything
  Node node;
  std::vector<Shape> inputs;
  Shape output;
  int64_t flops = 0, bytes = 0;
};

// Everything that makes two nodes the same work: op, full shapes and the attributes the kernels read.
std::string layer_key(const models::KernelLaunch& k, const Node& n) {
  const models::Attrs& a = n.attrs;
  std::string key = std::string(models::op_name(k.op));
  for (const Shape& s : k.input_shapes) key += models::shape_str(s);
  key += fmt::format("k{}x{}s{}x{}p{},{},{},{}d{}x{}g{}a{}al{}", a.kernel_h, a.kernel_w, a.stride_h, a.stride_w,
                     a.pad_top, a.pad_left, a.pad_bottom, a.pad_right, a.dilation_h, a.dilation_w, a.groups,
                     int(a.act.kind), a.alpha);
  return key;
}

Layer layer_of(const std::string& model, const models::Graph& g, const models::KernelLaunch& k) {
  Layer l;
  l.name = model + "/" + k.name;
  l.node = g.nodes()[static_cast<size_t>(k.node)];
  l.inputs = k.input_shapes;
  l.output = k.output_shape;
  l.flops = k.flops;
  l.bytes = k.bytes_read + k.bytes_written;
  return l;
}

// The layers of `model` at `batch` that `pick` selects, each distinct piece of work once (first
// node wins). `limit` caps how many are kept.
std::vector<Layer> pick_layers(const std::string& model, int64_t batch,
                               const std::function<bool(const Node&, const models::KernelLaunch&)>& pick,
                               size_t limit = SIZE_MAX) {
  models::BuildOptions options;
  options.weights = false;  // shapes only: the benchmark fills device buffers itself
  const models::Model m = models::build_zoo_model(model, options);
  const models::Plan plan = models::lower(m.graph, batch);
  std::vector<Layer> out;
  std::map<std::string, bool> seen;
  for (const models::KernelLaunch& k : plan.kernels) {
    const Node& n = m.graph.nodes()[static_cast<size_t>(k.node)];
    if (out.size() >= limit || !pick(n, k)) continue;
    if (!seen.emplace(layer_key(k, n), true).second) continue;
    out.push_back(layer_of(model, m.graph, k));
  }
  return out;
}

std::vector<Layer> layers_at(int64_t batch) {
  std::vector<Layer> all;
  auto append = [&](std::vector<Layer> v) { all.insert(all.end(), v.begin(), v.end()); };
  append(pick_layers("resnet50", batch, [](const Node& n, const auto&) { return n.op == OpKind::Conv2d; }));
  append(pick_layers(
      "mobilenet_v2", batch,
      [](const Node& n, const models::KernelLaunch& k) {
        return n.op == OpKind::Conv2d && n.attrs.groups > 1 && n.attrs.groups == k.input_shapes[0][1];
      },
      1));
  append(pick_layers(
      "resnext50_32x4d", batch,
      [](const Node& n, const models::KernelLaunch& k) {
        return n.op == OpKind::Conv2d && n.attrs.groups > 1 && n.attrs.groups < k.input_shapes[0][1];
      },
      1));
  // BERT-base: one encoder layer's projections, FFN and attention matmuls (all 12 layers are alike).
  std::vector<Layer> bert = pick_layers("bert_base", batch, [](const Node& n, const auto&) {
    return (n.op == OpKind::Linear || n.op == OpKind::MatMul) && n.name.rfind("encoder.layer.0.", 0) == 0;
  });
  for (Layer& l : bert) {
    // cuDNN has no exact GELU: both sides run the GEMM + bias, so the comparison is GEMM to GEMM.
    if (l.node.attrs.act.kind == kernels::Activation::Gelu) {
      l.node.attrs.act = {};
      l.note = "GELU epilogue dropped on both sides";
    }
  }
  append(std::move(bert));
  return all;
}

// dstack's kernel for the node, with the same arguments gpu_executor.cc's launch() passes.
void launch_ours(const Node& n, const std::vector<TensorView>& in, const Shape& out_shape, float* out,
                 cudaStream_t stream) {
  const models::Attrs& a = n.attrs;
  switch (n.op) {
    case OpKind::Conv2d:
      kernels::conv2d_cuda<float>(models::conv2d_geometry(n, in[0].shape, in[1].shape), in[0].data, in[1].data,
                                  in.size() >= 3 ? in[2].data : nullptr, in.size() == 4 ? in[3].data : nullptr, a.act,
                                  out, stream);
      return;
    case OpKind::Linear: {
      const int k = static_cast<int>(in[1].shape[1]), nout = static_cast<int>(in[1].shape[0]);
      const int rows = static_cast<int>(models::num_elements(in[0].shape) / k);
      kernels::gemm_cuda<float>(rows, nout, k, in[0].data, in[1].data, true, 1.f,
                                in.size() == 3 ? in[2].data : nullptr, a.act, out, stream);
      return;
    }
    case OpKind::MatMul: {
      const models::MatMulPlan p = models::matmul_plan(in[0].shape, in[1].shape, out_shape);
      const int64_t mn = int64_t{p.m} * p.n;
      if (p.uniform) {
        kernels::batched_matmul_cuda<float>(static_cast<int>(p.offset_a.size()), p.m, p.n, p.k, in[0].data,
                                            p.stride_a, in[1].data, p.stride_b, a.alpha, out, mn, stream);
      } else {
        for (size_t i = 0; i < p.offset_a.size(); ++i)
          kernels::batched_matmul_cuda<float>(1, p.m, p.n, p.k, in[0].data + p.offset_a[i], 0,
                                              in[1].data + p.offset_b[i], 0, a.alpha,
                                              out + static_cast<int64_t>(i) * mn, 0, stream);
      }
      return;
    }
    default: break;
  }
  throw std::invalid_argument(fmt::format("bench_kernels: no launcher for {}", models::op_name(n.op)));
}

// Device memory of random values in [-1, 1) (a cheap LCG: the values only need to be ordinary floats).
cuda::DeviceBuffer random_device(int64_t count, uint32_t seed) {
  std::vector<float> host(static_cast<size_t>(std::max<int64_t>(count, 1)));
  uint32_t s = seed * 2654435761u + 1u;
  for (float& v : host) {
    s = s * 1664525u + 1013904223u;
    v = float(s >> 8) / float(1u << 24) * 2.f - 1.f;
  }
  cuda::DeviceBuffer b(host.size() * sizeof(float));
  DSTACK_CUDA_CHECK(cudaMemcpy(b.data(), host.data(), b.bytes(), cudaMemcpyHostToDevice));
  return b;
}

// Mean ms per launch of `launch` over `launches` back-to-back launches, timed by CUDA events.
double time_ms(const std::function<void()>& launch, int launches, cudaStream_t stream) {
  cuda::Event start, stop;
  start.record(stream);
  for (int i = 0; i < launches; ++i) launch();
  stop.record(stream);
  stop.synchronize();
  return double(stop.elapsed_ms_since(start)) / launches;
}

// Warm-up, then how many launches fill about kTargetWindowMs.
int warm_up(const std::function<void()>& launch, cudaStream_t stream) {
  for (int i = 0; i < kWarmupLaunches; ++i) launch();
  DSTACK_CUDA_CHECK(cudaStreamSynchronize(stream));
  const double one = time_ms(launch, 3, stream);
  return std::clamp(static_cast<int>(std::ceil(kTargetWindowMs / std::max(one, 1e-4))), 1, kMaxLaunchesPerWindow);
}

void report(benchmark::State& state, const std::string& prefix, double ms, const Layer& l,
            const bench::DevicePeak& peak) {
  const double seconds = ms * 1e-3;
  const double flops = double(l.flops) / seconds, bytes = double(l.bytes) / seconds;
  state.counters[prefix + "ms"] = ms;
  state.counters[prefix + "TFLOP/s"] = flops * 1e-12;
  state.counters[prefix + "GB/s"] = bytes * 1e-9;
  if (peak.fp32_flops > 0) state.counters[prefix + "peak_flop_frac"] = flops / peak.fp32_flops;
  if (peak.dram_bytes_per_s > 0) state.counters[prefix + "peak_bw_frac"] = bytes / peak.dram_bytes_per_s;
}

void bench_layer(benchmark::State& state, const Layer& l, kernels::Precision precision, const bench::DevicePeak& peak) {
  if (precision != kernels::Precision::F32) {
    state.SkipWithError("only fp32 is benchmarked so far");
    return;
  }
  cuda::Stream stream;
  std::vector<cuda::DeviceBuffer> buffers;
  std::vector<TensorView> in;
  for (size_t i = 0; i < l.inputs.size(); ++i) {
    buffers.push_back(random_device(models::num_elements(l.inputs[i]), uint32_t(i + 1)));
    in.push_back({l.inputs[i], buffers.back().as<float>()});
  }
  const cuda::DeviceBuffer y(sizeof(float) * static_cast<size_t>(std::max<int64_t>(models::num_elements(l.output), 1)));
  float* out = y.as<float>();
  const std::function<void()> ours = [&] { launch_ours(l.node, in, l.output, out, stream.get()); };
  const int ours_launches = warm_up(ours, stream.get());

  std::function<void()> vendor_launch;  // empty when the vendor does not cover the layer
  int vendor_launches = 0;
#ifdef DSTACK_HAVE_VENDOR
  vendor::VendorContext ctx(stream.get());
  // The first call also picks cuDNN's convolution algorithm (timing every candidate), outside the loop.
  if (vendor::launch_vendor(l.node, in, l.output, out, ctx, stream.get())) {
    vendor_launch = [&] { vendor::launch_vendor(l.node, in, l.output, out, ctx, stream.get()); };
    vendor_launches = warm_up(vendor_launch, stream.get());
  }
#endif

  double ours_sum = 0, vendor_sum = 0;
  int64_t measurements = 0;
  for (auto _ : state) {
    const double ms = time_ms(ours, ours_launches, stream.get());
    state.SetIterationTime(ms * 1e-3);
    ours_sum += ms;
    if (vendor_launch) vendor_sum += time_ms(vendor_launch, vendor_launches, stream.get());
    ++measurements;
  }
  if (measurements == 0) return;
  const double ours_ms = ours_sum / double(measurements);
  report(state, "", ours_ms, l, peak);
  state.counters["batch"] = double(l.output[0]);
  state.counters["GFLOP"] = double(l.flops) * 1e-9;
  std::string label = l.note;
  if (vendor_launch) {
    const double vendor_ms = vendor_sum / double(measurements);
    report(state, "vendor_", vendor_ms, l, peak);
    state.counters["ours_over_vendor"] = ours_ms / vendor_ms;
  } else {
    if (!label.empty()) label.append("; ");
#ifdef DSTACK_HAVE_VENDOR
    label.append("vendor: not covered");
#else
    label.append("vendor: not built (cuDNN/cuBLAS not found at configure time)");
#endif
  }
  state.SetLabel(label);
}

}  // namespace

int main(int argc, char** argv) {
  const GpuReport gpus = probe_gpus();
  if (!gpus.usable()) {
    std::printf("no GPU: %s\n", gpus.unavailable_reason.c_str());
    return 0;
  }
  const GpuDevice& device = gpus.devices[0];
  const bench::DevicePeak peak = bench::device_peak(device);
  benchmark::AddCustomContext("gpu", device.name);
  benchmark::AddCustomContext("compute_capability", fmt::format("{}.{}", device.cc_major, device.cc_minor));
  benchmark::AddCustomContext("peak_fp32_tflops", fmt::format("{:.1f}", peak.fp32_flops * 1e-12));
  benchmark::AddCustomContext("peak_dram_gbps", fmt::format("{:.0f}", peak.dram_bytes_per_s * 1e-9));

  for (kernels::Precision precision : kPrecisions)
    for (int64_t batch : kBatches)
      for (const Layer& l : layers_at(batch)) {
        const std::string name = fmt::format("{}/{}/batch:{}/{}", models::op_name(l.node.op), l.name, batch,
                                             kernels::precision_name(precision));
        benchmark::RegisterBenchmark(name.c_str(), [l, precision, peak](benchmark::State& s) {
          bench_layer(s, l, precision, peak);
        })->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(kMeasurements);
      }

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
