// `dstack run CONFIG.yaml`: every policy of an experiment on the same workload (same arrivals, same
// seed), the comparison table printed and the results, traces and a copy of the config written
// to the output folder (runtime/serve/experiment_runner.h).
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "app/cli_common.h"
#include "app/commands.h"
#include "app/experiment_options.h"
#include "app/interrupt.h"
#include "app/model_source.h"
#include "models/zoo.h"
#include "runtime/sched/registry.h"
#include "runtime/serve/experiment_runner.h"
#include "runtime/serve/gpu_target.h"
#include "runtime/sim/device_spec.h"

namespace dstack::app {
namespace {

struct RunArgs {
  std::string config;
  std::string backend;
  ExperimentOptions common;
  double load = 1;
  std::string out;
  std::string mode = "fast";
  std::string device;
  bool realtime = false;
};

std::string cell(const std::optional<double>& v, const char* fmt_spec, double scale = 1) {
  return v ? fmt::format(fmt::runtime(fmt_spec), *v * scale) : std::string("-");
}

void print_table(const serve::ExperimentOutcome& e, const serve::ExperimentConfig& c, const serve::ServingTarget& t,
                 const std::string& out) {
  for (const std::string& note : t.notes) fmt::print("note: {}\n", note);
  const std::string load = c.load_factor != 1 ? fmt::format(", load x{}", c.load_factor) : "";
  fmt::print("{}: {} {} ({} models, {} s, warm-up {} s, seed {}{}){}; commit {}\n", t.label, c.name, t.where,
             c.models.size(), c.duration_s, c.warmup_s, c.seed, load, t.details,
             e.provenance["commit"].get<std::string>());
  const serve::PolicyOutcome* temporal = nullptr;
  for (const auto& p : e.policies)
    if (p.policy == "temporal") temporal = &p;
  fmt::print("{:<10} {:>11} {:>9} {:>10} {:>8} {:>8} {:>8} {:>9} {:>6} {:>9} {:>9}\n", "policy", "thr_req/s",
             "vs_temp", "good_req/s", "SM_util", "SM_alloc", "SLO_att", "p99_ms", "Jain", "rejected", "wall_s");
  for (const auto& p : e.policies) {
    const auto& a = p.metrics.all;
    const std::string ratio = temporal && temporal->metrics.all.throughput_rps > 0
                                  ? fmt::format("{:.2f}x", a.throughput_rps / temporal->metrics.all.throughput_rps)
                                  : "-";
    fmt::print("{:<10} {:>11.1f} {:>9} {:>10.1f} {:>8} {:>7.1f}% {:>8} {:>9} {:>6} {:>9} {:>9.2f}\n", p.policy,
               a.throughput_rps, ratio, a.goodput_rps, cell(p.metrics.sm_utilization, "{:.1f}%", 100),
               100 * p.metrics.sm_allocated, cell(a.slo_attainment, "{:.1f}%", 100), cell(a.p99_ms, "{:.2f}"),
               cell(p.metrics.jain_fairness, "{:.3f}"), a.rejected, p.wall_s);
  }
  fmt::print("throughput counts served + late requests, goodput those within their SLO; SM_util: SM-time with "
             "at least one resident thread block over all SMs' time ('-': this backend cannot observe it); "
             "SM_alloc: SM-time of partitions with a run in flight over all SMs' time; wall_s: host seconds the "
             "run took\n");
  if (!e.policies.empty() && e.policies.front().clock) {
    fmt::print("wall clock: how late the loop woke after a run finished / after a deadline (us), and CUDA graphs "
               "captured while serving (in the measured window)\n");
    fmt::print("{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "policy", "done_p50", "done_p99", "dl_p50", "dl_p99",
               "captures", "in_window");
    for (const auto& p : e.policies) {
      if (!p.clock) continue;
      const serve::ClockSummary& k = *p.clock;
      fmt::print("{:<10} {:>9.1f} {:>9.1f} {:>9.1f} {:>9.1f} {:>9} {:>9}\n", p.policy, k.after_completion.p50_us,
                 k.after_completion.p99_us, k.after_deadline.p50_us, k.after_deadline.p99_us,
                 k.captures_while_serving, k.captures_in_window);
    }
    // Paced to the wall clock, a simulation slower than real time makes the loop late by its own
    // host time: those rows measure the simulator, not the policy.
    for (const auto& p : e.policies)
      if (!t.measured && p.clock && p.clock->after_completion.p50_us > 1000)
        fmt::print("note: {}: half its completions came back over {:.1f} ms late: the simulator runs slower than the "
                   "wall clock for it, so its real-time numbers include the simulator's own host time\n",
                   p.policy, p.clock->after_completion.p50_us / 1000);
  }
  fmt::print("per model: {}/<policy>/metrics.csv; comparison: {}/comparison.csv; traces: {}/<policy>/trace.json\n",
             out, out, out);
}

}  // namespace

void register_run(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Run an experiment: every policy on the same workload, compared");
  cmd->add_option("config", a->config, "Experiment YAML (runtime/serve/README.md)")->required();
  cmd->add_option("--backend", a->backend, "Override the config's backend: sim or gpu");
  add_experiment_options(*cmd, a->common);
  cmd->add_option("--load", a->load, "Multiply every model's offered load (rates, rate changes, trace speed) by this");
  cmd->add_option("-o,--out", a->out, "Output folder (default: out/<experiment name>)");
  cmd->add_option("--device", a->device,
                  "Override the config's device (the simulated GPU; `dstack sim devices` lists them)");
  CLI::Option* mode = cmd->add_option("--mode", a->mode, "Simulator granularity: fast or block")->default_str("fast");
  cmd->add_flag("--realtime", a->realtime,
                "Pace the simulator to the wall clock: policy decisions and late wake-ups delay dispatch as on a "
                "GPU (not deterministic)");
  cmd->callback([a, mode] {
    serve::ExperimentConfig c = load_config(a->config, a->common);
    if (!a->backend.empty()) {
      if (a->backend != "sim" && a->backend != "gpu")
        throw std::invalid_argument("--backend '" + a->backend + "': choose sim or gpu");
      c.backend = a->backend == "gpu" ? serve::ServeBackend::Gpu : serve::ServeBackend::Sim;
    }
    if (!a->device.empty()) {
      if (c.backend == serve::ServeBackend::Gpu)
        throw std::invalid_argument("--device picks the simulated GPU; on a GPU the policies plan with the shipped "
                                    "description matched to it");
      // An unknown name fails here, listing the shipped ones; a NAME.json file is checked whole.
      const std::string name = sim::load_device(a->device).name;
      c.device = a->device.ends_with(".json") ? a->device : name;
    }
    if (a->load != 1) {
      try {
        serve::scale_load(c, a->load);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(fmt::format("--load: {}", e.what()));
      }
    }
    const std::string out = a->out.empty() ? "out/" + c.name : a->out;
    const std::shared_ptr<const sim::CostModel> cost = options_cost(a->common);
    serve::ServingTarget target;
    if (c.backend == serve::ServeBackend::Gpu) {
      if (a->realtime)
        throw std::invalid_argument("--realtime paces the simulator to the wall clock; a GPU run is real time already");
      if (mode->count() > 0) throw std::invalid_argument("--mode sets the simulator's granularity; it has no meaning on a GPU");
      serve::GpuTargetOptions g;
      g.cost = cost;
      g.load_weights = [](const std::string& spec, uint64_t seed) {
        return std::make_shared<const models::Graph>(load_model(spec, seed, /*weights=*/true).graph);
      };
      target = serve::gpu_target(c, g);
    } else {
      target = serve::sim_target(c, {sim::parse_sim_mode(a->mode), cost, a->realtime});
    }
    serve::RunOptions o;
    o.out_dir = out;
    o.commit = commit_string();
    o.load_graph = [](const std::string& spec) {
      return std::shared_ptr<const models::Graph>(&shape_graph(spec), [](const models::Graph*) {});
    };
    auto bar = std::make_shared<Progress>("run " + c.name);
    report_interrupts(fmt::format("run {} into {}", c.name, out));
    o.on_policy = [bar, &c](const std::string& name, std::size_t i, std::size_t n) {
      bar->update(i, n);
      std::string done;
      for (std::size_t k = 0; k < i; ++k) done += (k ? ", " : "") + c.policies[k];
      set_interrupt_progress(fmt::format("{}{} was running (its folder may hold .partial files; comparison.csv is "
                                         "written last, so there is none)",
                                         done.empty() ? "" : "finished " + done + " (complete outputs); ",
                                         name));
    };
    const serve::ExperimentOutcome e = serve::run_experiment(c, target, o);
    bar->update(c.policies.size(), c.policies.size());
    bar.reset();
    print_table(e, c, target, out);
  });
}

}  // namespace dstack::app
