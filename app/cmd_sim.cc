// `dstack sim`: the simulated GPU (runtime/sim). `run` simulates one batch with its per-kernel
// breakdown, `devices` lists the shipped device descriptions, `profile` writes a latency profile
// (model, batch, SMs -> latency) and `validate` replays a profile on the simulator and reports the
// error. Every result says it is simulated and names the device description.
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "app/cli_common.h"
#include "app/commands.h"
#include "kernels/precision.h"
#include "runtime/core/atomic_file.h"
#include "runtime/sim/cost_model.h"
#include "runtime/sim/device_spec.h"
#include "runtime/sim/profile.h"
#include "runtime/sim/simulate.h"

namespace dstack::app {
namespace {

struct SimArgs {
  std::string model;
  int64_t batch = 1;
  int sms = 0;  // 0: the whole GPU
  std::string device = "h100_sxm";
  std::string mode = "fast";
  std::string precision = "fp32";
  std::string dispatch = "graph";
  std::string kernel_times;  // calibration CSV
  bool json = false;
  // profile / validate
  std::string batches = "1,8";
  std::string sms_list;  // default: every partition size
  std::string out;
  std::string profile;
};

sim::BatchSimulation simulate(const std::string& model, int64_t batch, kernels::Precision p, const sim::DeviceSpec& d,
                              int sms, sim::SimMode mode, DispatchMode dispatch, const sim::CostModel& cost) {
  return sim::simulate_batch(shape_graph(model), model, batch, p, d, sms, mode, dispatch, cost);
}

void print_run(const sim::BatchSimulation& s, int requested_sms) {
  const auto& p = *s.plan;
  const auto& d = *s.device;
  std::string sms = fmt::format("{} of {} SMs", s.sms, d.sm_count);
  if (requested_sms > 0 && requested_sms != s.sms)
    sms += fmt::format(" (requested {}, rounded up to whole groups of {})", requested_sms, d.split_group_sms);
  fmt::print("simulated: {} at batch {}, {}, on {} of {} ({}, {}), {} mode, {} dispatch\n", p.model, p.batch,
             kernels::precision_name(p.precision), sms, d.name, d.full_name, d.file, sim::sim_mode_name(s.mode),
             dispatch_mode_name(s.dispatch));
  fmt::print("latency: {:.3f} ms   cost model: {}; {}; commit {}\n", s.latency_s * 1e3, p.cost_model, p.resource_note,
             commit_string());
  fmt::print("{:>4}  {:<40} {:>8} {:>5} {:>6} {:<13} {:>6} {:>4} {:>10} {:>10}  {}\n", "#", "kernel", "blocks", "thr",
             "blk/SM", "limit", "waves", "SMs", "start_us", "time_us", "bound");
  for (const auto& kt : s.timing.kernels) {
    const auto& k = p.kernels[kt.kernel];
    fmt::print("{:>4}  {:<40} {:>8} {:>5} {:>6} {:<13} {:>6} {:>4} {:>10.2f} {:>10.2f}  {}\n", kt.kernel, k.kernel,
               k.blocks, k.threads, k.occupancy.blocks_per_sm, kernels::occupancy_limit_name(k.occupancy.limit),
               kt.waves, kt.sms_used, kt.start_s * 1e6, (kt.end_s - kt.start_s) * 1e6, sim::bound_name(kt.bound));
  }
}

void add_common(CLI::App* cmd, SimArgs& a) {
  cmd->add_option("--device", a.device, "Device description: a name from `dstack sim devices` (h100 = h100_sxm)")
      ->default_str("h100_sxm");
  cmd->add_option("--mode", a.mode, "block (every thread block, exact) or fast (waves, for long runs)")->default_str("fast");
  cmd->add_option("--precision", a.precision, "Storage precision: fp32, fp16 or bf16")->default_str("fp32");
  cmd->add_option("--dispatch", a.dispatch, "graph (one CUDA graph) or per-kernel launches")->default_str("graph");
  cmd->add_option("--kernel-times", a.kernel_times,
                  "Measured kernel times (CSV kernel,grid,block,time_us) replacing the roofline (calibration)");
}

void register_sim_run(CLI::App& sim_cmd) {
  auto a = std::make_shared<SimArgs>();
  CLI::App* cmd = sim_cmd.add_subcommand("run", "Simulated latency of one batch on a partition, kernel by kernel");
  cmd->add_option("model", a->model, "A zoo model (dstack models lists them) or an .onnx file")->required();
  cmd->add_option("--batch,-b", a->batch, "Batch size")->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--sms", a->sms, "SMs of the partition (rounded up to the device's granularity); default: whole GPU");
  add_common(cmd, *a);
  cmd->add_flag("--json", a->json, "Print the result as JSON");
  cmd->callback([a] {
    const auto precision = kernels::parse_precision(a->precision);
    const auto mode = sim::parse_sim_mode(a->mode);
    const auto dispatch = parse_dispatch_mode(a->dispatch);
    const sim::DeviceSpec d = sim::load_device(a->device);
    const int sms = sim::resolve_partition_sms(d, a->sms == 0 ? d.sm_count : a->sms);
    const auto cost = make_cost_model(a->kernel_times);
    const auto s = simulate(a->model, a->batch, precision, d, sms, mode, dispatch, *cost);
    if (a->json)
      std::cout << sim::batch_simulation_json(s, commit_string()).dump(2) << "\n";
    else
      print_run(s, a->sms);
  });
}

void register_devices(CLI::App& sim_cmd) {
  auto a = std::make_shared<SimArgs>();
  CLI::App* cmd = sim_cmd.add_subcommand("devices", "The shipped device descriptions (devices/*.json)");
  cmd->add_flag("--json", a->json, "Print them as JSON");
  cmd->callback([a] {
    nlohmann::json all = nlohmann::json::array();
    if (!a->json)
      fmt::print("{:<10} {:<24} {:>5} {:>4} {:>7} {:>8} {:>7} {:>6}  {:<18} {}\n", "name", "GPU", "arch", "SMs",
                 "FP32 TF", "tensor TF", "DRAM GB/s", "L2 MB", "partitions", "file");
    for (const std::string& n : sim::shipped_device_names()) {
      const sim::DeviceSpec d = sim::load_device(n);
      if (a->json) {
        all.push_back({{"name", d.name}, {"full_name", d.full_name}, {"arch", d.arch}, {"sm_count", d.sm_count},
                       {"fp32_tflops", d.fp32_tflops}, {"tensor_tflops", d.tensor_tflops},
                       {"dram_bandwidth_gbs", d.dram_bandwidth_gbs}, {"l2_bytes", d.l2_bytes},
                       {"partition_min_sms", d.partition_min_sms}, {"partition_alignment", d.partition_alignment},
                       {"partition_sizes", d.granularity().partition_sizes}, {"file", d.file}});
      } else {
        fmt::print("{:<10} {:<24} {:>5} {:>4} {:>7.1f} {:>8.1f} {:>9.0f} {:>6.1f}  {:<18} {}\n", d.name, d.full_name,
                   fmt::format("sm_{}", d.arch), d.sm_count, d.fp32_tflops, d.tensor_tflops, d.dram_bandwidth_gbs,
                   static_cast<double>(d.l2_bytes) / (1 << 20),
                   fmt::format("min {}, step {}", d.partition_min_sms, d.partition_alignment), d.file);
      }
    }
    if (a->json)
      std::cout << nlohmann::json{{"simulated", true}, {"devices_dir", sim::devices_dir().string()}, {"devices", all}}
                       .dump(2)
                << "\n";
    else
      fmt::print("(from {}; set DSTACK_DEVICES_DIR to use another folder)\n", sim::devices_dir().string());
  });
}

void register_sim_profile(CLI::App& sim_cmd) {
  auto a = std::make_shared<SimArgs>();
  CLI::App* cmd = sim_cmd.add_subcommand(
      "profile", "Write a simulated latency profile (CSV model,batch,sms,precision,latency_ms) for `sim validate`");
  cmd->add_option("models", a->model, "Models separated by commas (zoo names or .onnx files)")->required();
  cmd->add_option("--batches", a->batches, "Batch sizes, e.g. 1,8,32")->default_str("1,8");
  cmd->add_option("--sms", a->sms_list, "Partition sizes, e.g. 8,16,132; default: every size the device allows");
  cmd->add_option("--out,-o", a->out, "CSV file to write")->required();
  add_common(cmd, *a);
  cmd->callback([a] {
    const auto precision = kernels::parse_precision(a->precision);
    const auto mode = sim::parse_sim_mode(a->mode);
    const auto dispatch = parse_dispatch_mode(a->dispatch);
    const sim::DeviceSpec d = sim::load_device(a->device);
    const auto cost = make_cost_model(a->kernel_times);
    std::vector<int64_t> sms_list;
    if (a->sms_list.empty())
      for (int s : d.granularity().partition_sizes) sms_list.push_back(s);
    else
      sms_list = parse_int_list(a->sms_list, "--sms");
    const auto batches = parse_int_list(a->batches, "--batches");
    const std::vector<std::string> models = parse_model_list(a->model);
    std::vector<sim::ProfilePoint> points;
    for (const auto& m : models)
      for (int64_t b : batches)
        for (int64_t requested : sms_list) {
          const int sms = sim::resolve_partition_sms(d, static_cast<int>(requested));
          const auto s = simulate(m, b, precision, d, sms, mode, dispatch, *cost);
          points.push_back({m, b, sms, precision, s.latency_s * 1e3});
        }
    AtomicFile file(a->out);
    sim::write_profile_csv(
        file.out(), points,
        {"simulated: true", fmt::format("device: {} ({})", d.name, d.file),
         fmt::format("mode: {}, dispatch: {}, cost model: {}", sim::sim_mode_name(mode), dispatch_mode_name(dispatch),
                     cost->name()),
         fmt::format("commit: {}", commit_string())});
    file.commit();
    fmt::print("simulated: wrote {} points to {} ({} on {}, {} mode)\n", points.size(), a->out, a->model, d.name,
               sim::sim_mode_name(mode));
  });
}

void register_validate(CLI::App& sim_cmd) {
  auto a = std::make_shared<SimArgs>();
  CLI::App* cmd = sim_cmd.add_subcommand(
      "validate", "Replay a profile's (model, batch, SMs) points on the simulator and report the latency error");
  cmd->add_option("--profile", a->profile, "CSV with columns model,batch,sms,latency_ms (precision optional)")->required();
  add_common(cmd, *a);
  cmd->add_flag("--json", a->json, "Print the report as JSON");
  cmd->callback([a] {
    const auto mode = sim::parse_sim_mode(a->mode);
    const auto dispatch = parse_dispatch_mode(a->dispatch);
    const sim::DeviceSpec d = sim::load_device(a->device);
    const auto cost = make_cost_model(a->kernel_times);
    const auto points = sim::read_profile_csv(a->profile);
    const auto report = sim::validate_profile(points, [&](const sim::ProfilePoint& p) {
      const int sms = sim::resolve_partition_sms(d, p.sms);
      return simulate(p.model, p.batch, p.precision, d, sms, mode, dispatch, *cost).latency_s * 1e3;
    });
    if (a->json) {
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& r : report.rows)
        rows.push_back({{"model", r.reference.model}, {"batch", r.reference.batch}, {"sms", r.reference.sms},
                        {"precision", kernels::precision_name(r.reference.precision)},
                        {"reference_ms", r.reference.latency_ms}, {"simulated_ms", r.simulated_ms},
                        {"relative_error", r.relative_error}});
      std::cout << nlohmann::json{{"simulated", true}, {"device", d.name}, {"device_file", d.file},
                                  {"mode", sim::sim_mode_name(mode)}, {"cost_model", cost->name()},
                                  {"commit", commit_string()}, {"profile", a->profile}, {"points", rows},
                                  {"median_relative_error", report.median_relative_error},
                                  {"max_relative_error", report.max_relative_error},
                                  {"mean_relative_error", report.mean_relative_error}}
                       .dump(2)
                << "\n";
      return;
    }
    fmt::print("simulated ({} mode) on {} ({}) against {}; commit {}\n", sim::sim_mode_name(mode), d.name, d.file,
               a->profile, commit_string());
    fmt::print("{:<16} {:>6} {:>5} {:>6} {:>12} {:>12} {:>9}\n", "model", "batch", "SMs", "prec", "profile_ms",
               "simulated_ms", "error");
    for (const auto& r : report.rows)
      fmt::print("{:<16} {:>6} {:>5} {:>6} {:>12.4f} {:>12.4f} {:>8.2f}%\n", r.reference.model, r.reference.batch,
                 r.reference.sms, kernels::precision_name(r.reference.precision), r.reference.latency_ms,
                 r.simulated_ms, 100 * r.relative_error);
    fmt::print("{} points: median relative error {:.2f}%, max {:.2f}%, mean {:.2f}%\n", report.rows.size(),
               100 * report.median_relative_error, 100 * report.max_relative_error, 100 * report.mean_relative_error);
  });
}

}  // namespace

void register_sim(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("sim", "The simulated GPU: run a batch, list devices, profile, validate");
  cmd->require_subcommand(1);
  register_sim_run(*cmd);
  register_devices(*cmd);
  register_sim_profile(*cmd);
  register_validate(*cmd);
}

}  // namespace dstack::app
