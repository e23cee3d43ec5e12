// `dstack infer`: run a model on a NumPy input and write its output.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <stdexcept>

#include "app/commands.h"
#include "app/model_source.h"
#include "kernels/precision.h"
#include "runtime/backend/cpu/cpu_executor.h"
#ifdef DSTACK_HAVE_GPU_EXECUTOR
#include "runtime/backend/gpu_executor.h"
#endif
#include "runtime/core/npy.h"

namespace dstack::app {
namespace {

struct InferArgs {
  std::string model;
  std::string input;
  std::string output;
  std::string backend = "cpu";
  std::string precision = "fp32";
  bool cuda_graph = false;
  uint64_t seed = 1;
};

// Output i > 0 goes next to the first: y.npy, y.1.npy, y.2.npy, ...
std::string output_path(const std::string& first, size_t i) {
  if (i == 0) return first;
  std::string stem = first.ends_with(".npy") ? first.substr(0, first.size() - 4) : first;
  return fmt::format("{}.{}.npy", stem, i);
}

}  // namespace

void register_infer(CLI::App& app) {
  auto args = std::make_shared<InferArgs>();
  CLI::App* cmd = app.add_subcommand("infer", "Run a model on a float32 .npy input (batch first) and write the output as .npy");
  cmd->add_option("model", args->model, "A zoo model (dstack models lists them) or an .onnx file")->required();
  cmd->add_option("--input,-i", args->input, "Input array (.npy, batch first)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--output,-o", args->output, "Where to write the output (.npy); further outputs go to NAME.1.npy, ...")
      ->required();
  cmd->add_option("--backend", args->backend,
                  "cpu (reference kernels), gpu (dstack's CUDA kernels) or vendor (cuDNN/cuBLAS where they cover a "
                  "node, dstack's kernels elsewhere)")
      ->check(CLI::IsMember({"cpu", "gpu", "vendor"}));
  cmd->add_option("--precision", args->precision, "fp32, fp16 or bf16 (GPU backends; the CPU reference is fp32)");
  cmd->add_flag("--cuda-graph", args->cuda_graph, "GPU backends: dispatch the model as one captured CUDA graph");
  cmd->add_option("--seed", args->seed, "Seed of the zoo's random weights");
  cmd->callback([args] {
    const kernels::Precision precision = kernels::parse_precision(args->precision);
    const bool on_gpu = args->backend != "cpu";
    if (!on_gpu && (precision != kernels::Precision::F32 || args->cuda_graph))
      throw std::invalid_argument("--backend cpu runs the fp32 reference only; --precision and --cuda-graph need "
                                  "--backend gpu or vendor");
#ifndef DSTACK_HAVE_GPU_EXECUTOR
    if (on_gpu)
      throw std::invalid_argument(fmt::format("--backend {}: this build has no CUDA kernels (configured without the "
                                              "CUDA toolkit); use --backend cpu or rebuild with nvcc on PATH",
                                              args->backend));
#endif
    models::Model m = load_model(args->model, args->seed);
    NpyArray in = read_npy(args->input);
    if (in.data.empty())
      throw std::invalid_argument(fmt::format("{}: an empty array (shape [{}]): give at least one sample", args->input,
                                              fmt::join(in.shape, ", ")));
    std::vector<models::Tensor> inputs{models::Tensor{in.shape, std::move(in.data)}};
    auto t0 = std::chrono::steady_clock::now();
    std::vector<models::Tensor> out;
    std::string where = "the CPU reference backend";
#ifdef DSTACK_HAVE_GPU_EXECUTOR
    if (on_gpu) {
      GpuRunOptions options;
      options.precision = precision;
      options.vendor = args->backend == "vendor";
      options.cuda_graph = args->cuda_graph;
      GpuRunStats stats;
      out = run_gpu(m.graph, inputs, options, &stats);
      where = fmt::format("the GPU at {} ({} nodes{}, {}; {:.3f} ms by CUDA events; weights {:.1f} MiB, activation "
                          "arena {:.1f} MiB)",
                          stats.precision, stats.kernels,
                          options.vendor ? fmt::format(", {} through cuDNN/cuBLAS", stats.vendor_nodes) : "",
                          options.cuda_graph ? "one CUDA graph" : "per-kernel dispatch", stats.milliseconds,
                          static_cast<double>(stats.weight_bytes) / (1 << 20),
                          static_cast<double>(stats.activation_bytes) / (1 << 20));
    }
#endif
    if (args->backend == "cpu") out = run_cpu(m.graph, inputs);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (size_t i = 0; i < out.size(); ++i) {
      write_npy(output_path(args->output, i), NpyArray{out[i].shape, std::move(out[i].data)});
      fmt::print("wrote {} {} ({})\n", output_path(args->output, i), models::shape_str(out[i].shape),
                 m.graph.value(m.graph.outputs()[i]).name);
    }
    fmt::print("{} on {}: {:.3f} s wall\n", m.graph.name(), where, seconds);
  });
}

}  // namespace dstack::app
