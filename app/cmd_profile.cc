// `dstack profile`: latency of whole models and of every kernel by batch size and partition size,
// measured on the GPU (--backend gpu) or simulated (--backend sim), as CSV with a JSON sidecar of
// provenance (runtime/analysis/profile.h).
#include <fmt/format.h>

#include <filesystem>
#include <memory>

#include "app/cli_common.h"
#include "app/commands.h"
#include "app/interrupt.h"
#include "app/model_source.h"
#include "runtime/analysis/profile.h"
#include "runtime/core/atomic_file.h"
#include "runtime/sim/simulate.h"
#ifdef DSTACK_HAVE_GPU_EXECUTOR
#include "runtime/backend/cuda/gpu_profiler.h"
#endif

namespace dstack::app {
namespace {

struct ProfileArgs {
  std::string models;
  std::string batches = "1,2,4,8,16,32,64";
  std::string sms = "all";
  std::string backend = "sim";
  std::string precision = "fp32";
  std::string out;
  // simulator
  std::string device = "h100_sxm";
  std::string mode = "fast";
  std::string kernel_times;
  // GPU
  int repeats = 10;
  int warmup = 3;
  int kernel_repeats = 3;
  double stop_after_ms = 0;
};

std::vector<int> partition_sizes(const std::string& text, const std::vector<int>& allowed) {
  if (text == "all") return allowed;
  std::vector<int> v;
  for (int64_t s : parse_int_list(text, "--sms")) v.push_back(static_cast<int>(s));
  return v;
}

void append(analysis::Profile& into, analysis::Profile&& part, const std::string& model) {
  if (into.models.empty() && into.kernels.empty()) into.provenance = part.provenance;
  into.provenance["models"].push_back(model);
  if (part.provenance.contains("skipped"))
    for (auto& s : part.provenance["skipped"]) into.provenance["skipped"].push_back({{"model", model}, {"skip", s}});
  for (auto& r : part.models) into.models.push_back(std::move(r));
  for (auto& k : part.kernels) into.kernels.push_back(std::move(k));
}

analysis::Profile profile_sim(const ProfileArgs& a, const std::vector<std::string>& models,
                              const std::vector<int64_t>& batches, kernels::Precision precision) {
  const sim::DeviceSpec d = sim::load_device(a.device);
  std::vector<int> sms;
  for (int s : partition_sizes(a.sms, d.granularity().partition_sizes)) sms.push_back(sim::resolve_partition_sms(d, s));
  const auto cost = make_cost_model(a.kernel_times);
  analysis::SimProfileOptions o{batches, sms, precision, sim::parse_sim_mode(a.mode), DispatchMode::graph};
  analysis::Profile all;
  for (const auto& m : models) {
    Progress bar("profile " + m + " (simulated)");
    append(all, analysis::simulated_profile(shape_graph(m), m, o, d, *cost, commit_string(),
                                            [&](std::size_t done, std::size_t total) { bar.update(done, total); }),
           m);
  }
  return all;
}

analysis::Profile profile_measured(const ProfileArgs& a, const std::vector<std::string>& models,
                                   const std::vector<int64_t>& batches, kernels::Precision precision) {
#ifdef DSTACK_HAVE_GPU_EXECUTOR
  const GpuReport report = probe_gpus();
  if (!report.usable()) throw std::runtime_error("--backend gpu: " + report.unavailable_reason +
                                                 "; use --backend sim on a machine without a GPU");
  const auto& granularity = report.devices.at(0).green_contexts;
  if (!granularity) throw std::runtime_error("--backend gpu: no green contexts: " +
                                             report.devices.at(0).green_context_error);
  cuda::GpuProfileOptions o;
  o.batches = batches;
  o.sms = partition_sizes(a.sms, granularity->partition_sizes);
  o.precision = precision;
  o.repeats = a.repeats;
  o.warmup = a.warmup;
  o.kernel_repeats = a.kernel_repeats;
  o.stop_after_ms = a.stop_after_ms;
  analysis::Profile all;
  for (const auto& m : models) {
    const models::Model model = load_model(m, /*seed=*/1, /*weights=*/true);
    Progress bar("profile " + m + " (measured)");
    append(all, cuda::profile_gpu(model.graph, m, o, commit_string(),
                                  [&](std::size_t done, std::size_t total) { bar.update(done, total); }),
           m);
  }
  return all;
#else
  (void)a, (void)models, (void)batches, (void)precision;
  throw std::runtime_error("--backend gpu: this build has no CUDA backend (built without the CUDA toolkit); "
                           "use --backend sim");
#endif
}

void print_summary(const analysis::Profile& p, const std::string& out) {
  const bool simulated = p.provenance.value("simulated", false);
  fmt::print("{} profile: {} points, {} kernel rows ({})\n", simulated ? "simulated" : "measured", p.models.size(),
             p.kernels.size(), p.provenance.value("device", std::string("?")));
  fmt::print("{:<16} {:>6} {:>14} {:>14}\n", "model", "batch", "ms (fewest SMs)", "ms (most SMs)");
  for (std::size_t i = 0; i < p.models.size();) {
    std::size_t j = i;
    while (j < p.models.size() && p.models[j].point.model == p.models[i].point.model &&
           p.models[j].point.batch == p.models[i].point.batch)
      ++j;
    const auto& lo = p.models[i].point;
    const auto& hi = p.models[j - 1].point;
    fmt::print("{:<16} {:>6} {:>9.3f} @{:<4} {:>9.3f} @{:<4}\n", lo.model, lo.batch, lo.latency_ms, lo.sms,
               hi.latency_ms, hi.sms);
    i = j;
  }
  fmt::print("wrote {}, {}, {}\n", out, analysis::profile_kernels_file(out).string(),
             analysis::profile_sidecar(out).string());
}

}  // namespace

void register_profile(CLI::App& app) {
  auto a = std::make_shared<ProfileArgs>();
  CLI::App* cmd = app.add_subcommand(
      "profile", "Latency of whole models and every kernel by batch and partition size (measured or simulated)");
  cmd->add_option("models", a->models, "Zoo models or .onnx files separated by commas, or 'all'")->required();
  cmd->add_option("--batches", a->batches, "Batch sizes")->default_str(a->batches);
  cmd->add_option("--sms", a->sms, "Partition sizes, e.g. 8,16,132, or 'all' the device allows")->default_str("all");
  cmd->add_option("--backend", a->backend, "sim (the simulator) or gpu (measured)")
      ->check(CLI::IsMember({"sim", "gpu"}))
      ->default_str("sim");
  cmd->add_option("--precision", a->precision, "fp32, fp16 or bf16")->default_str("fp32");
  cmd->add_option("-o,--out", a->out, "CSV to write (P.kernels.csv and P.json beside it)")->required();
  cmd->add_option("--device", a->device, "sim: device description (dstack sim devices)")->default_str(a->device);
  cmd->add_option("--mode", a->mode, "sim: fast or block")->default_str(a->mode);
  cmd->add_option("--kernel-times", a->kernel_times, "sim: measured kernel times calibrating the cost model");
  cmd->add_option("--repeats", a->repeats, "gpu: timed graph launches per point (median)")
      ->check(CLI::Range(1, 100000))
      ->default_str("10");
  cmd->add_option("--warmup", a->warmup, "gpu: untimed launches first")->check(CLI::Range(0, 100000))->default_str("3");
  cmd->add_option("--kernel-repeats", a->kernel_repeats, "gpu: per-kernel timing runs per point (0: none)")
      ->check(CLI::Range(0, 100000))
      ->default_str("3");
  cmd->add_option("--stop-after-ms", a->stop_after_ms,
                  "gpu: at each partition, skip larger batches once one takes longer than this (0: never)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([a] {
    const auto models = parse_model_list(a->models);
    const auto batches = parse_int_list(a->batches, "--batches");
    const auto precision = kernels::parse_precision(a->precision);
    const std::filesystem::path out_dir = std::filesystem::path(a->out).parent_path();
    require_writable_folder(out_dir.empty() ? "." : out_dir);
    report_interrupts(fmt::format("profile {} into {}", a->models, a->out));
    set_interrupt_progress("nothing was written (the profile's three files are written once every model is profiled)");
    analysis::Profile p = a->backend == "gpu" ? profile_measured(*a, models, batches, precision)
                                              : profile_sim(*a, models, batches, precision);
    analysis::write_profile(p, a->out);
    print_summary(p, a->out);
  });
}

}  // namespace dstack::app
