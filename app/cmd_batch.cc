// `dstack batch`: the batch optimizer (runtime/analysis/batch_optimizer.h) for one model: the chosen
// (batch, SMs) under an SLO and an arrival rate, its predicted latency and throughput, and the
// constraint that decided it. Latency from the parallelism model, or from a profile's points.
#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "app/cli_common.h"
#include "app/commands.h"
#include "runtime/analysis/batch_optimizer.h"
#include "runtime/analysis/profile.h"
#include "runtime/sched/oracle.h"

namespace dstack::app {
namespace {

struct BatchArgs {
  std::string model;
  double slo_ms = 0;
  double rate = 0;
  double cycle_ms = 0;
  int64_t max_batch = 64;
  std::string device = "h100_sxm";
  std::string precision = "fp32";
  std::string profile;
  std::string kernel_times;
  bool json = false;
};

}  // namespace

void register_batch(CLI::App& app) {
  auto a = std::make_shared<BatchArgs>();
  CLI::App* cmd = app.add_subcommand("batch", "Choose a model's batch size and SMs for an SLO and a request rate");
  cmd->add_option("model", a->model, "A zoo model or .onnx file")->required();
  cmd->add_option("--slo", a->slo_ms, "Latency SLO of a request, ms")->required()->check(CLI::PositiveNumber);
  cmd->add_option("--rate", a->rate, "Arrival rate, requests/s (0: unknown, latency alone decides)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--cycle", a->cycle_ms, "The scheduler's cycle, ms, when the model shares time with others")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-batch", a->max_batch, "Largest batch")->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->default_str("64");
  cmd->add_option("--device", a->device, "Device description (dstack sim devices)")->default_str(a->device);
  cmd->add_option("--precision", a->precision, "fp32, fp16 or bf16")->default_str("fp32");
  cmd->add_option("--profile", a->profile, "Take latencies from a profile CSV (only its points are candidates)");
  cmd->add_option("--kernel-times", a->kernel_times, "Measured kernel times calibrating the cost model");
  cmd->add_flag("--json", a->json, "Print the choice as JSON");
  cmd->callback([a] {
    const auto precision = kernels::parse_precision(a->precision);
    const sim::DeviceSpec d = sim::load_device(a->device);
    analysis::BatchProblem problem;
    problem.slo_s = a->slo_ms * 1e-3;
    problem.rate_rps = a->rate;
    if (a->cycle_ms > 0) problem.cycle_s = a->cycle_ms * 1e-3;
    problem.max_batch = a->max_batch;
    analysis::LatencyFn latency;
    std::string source;
    std::string latencies = "predicted";  // or the profile's backend: simulated | measured
    if (a->profile.empty()) {
      problem.sms = d.granularity().partition_sizes;
      // The oracle the schedulers use: one prepared plan per batch, latencies cached.
      const std::shared_ptr<const models::Graph> graph(&shape_graph(a->model), [](const models::Graph*) {});
      auto oracle = std::make_shared<sched::ParallelismOracle>(
          d, std::vector<std::shared_ptr<const models::Graph>>{graph}, std::vector<std::string>{a->model}, precision,
          make_cost_model(a->kernel_times));
      latency = [oracle](int64_t b, int s) { return oracle->latency_s(0, b, s); };
      source = "parallelism model on " + d.name;
    } else {
      std::map<std::pair<int64_t, int>, double> points;
      std::map<int, bool> sms;
      const analysis::Profile profile = analysis::read_profile(a->profile);
      latencies = profile.provenance.value("backend", std::string("unknown (no sidecar JSON)"));
      for (const auto& r : profile.models)
        if (r.point.model == a->model && r.point.precision == precision) {
          points[{r.point.batch, r.point.sms}] = r.point.latency_ms * 1e-3;
          sms[r.point.sms] = true;
        }
      if (points.empty())
        throw std::invalid_argument(fmt::format("profile {} has no {} points for {}", a->profile,
                                                kernels::precision_name(precision), a->model));
      for (const auto& [s, _] : sms) problem.sms.push_back(s);
      latency = [points](int64_t b, int s) {
        const auto it = points.find({b, s});
        return it == points.end() ? std::numeric_limits<double>::infinity() : it->second;
      };
      source = "profile " + a->profile;
    }
    const analysis::BatchChoice c = analysis::choose_batch(problem, latency);
    if (a->json) {
      std::cout << nlohmann::json{{"model", a->model},
                                  {"slo_ms", a->slo_ms},
                                  {"rate_rps", a->rate},
                                  {"cycle_ms", a->cycle_ms > 0 ? nlohmann::json(a->cycle_ms) : nlohmann::json()},
                                  {"batch", c.batch},
                                  {"sms", c.sms},
                                  {"latency_ms", c.latency_s * 1e3},
                                  {"capacity_rps", c.capacity_rps},
                                  {"requests_per_run", c.requests_per_run},
                                  {"sm_ms_per_request", c.sm_seconds_per_request * 1e3},
                                  {"binding", analysis::binding_name(c.binding)},
                                  {"why", c.why},
                                  {"latency_from", source},
                                  {"latencies", latencies},
                                  {"commit", commit_string()}}
                       .dump(2)
                << "\n";
      return;
    }
    fmt::print("{}: batch {} on {} SMs ({})\n", a->model, c.batch, c.sms, source);
    fmt::print("  predicted latency {:.3f} ms (SLO {:.3g} ms{}), capacity {:.1f} req/s{}\n", c.latency_s * 1e3,
               a->slo_ms, a->cycle_ms > 0 ? fmt::format(", cycle {:.3g} ms", a->cycle_ms) : "", c.capacity_rps,
               a->rate > 0 ? fmt::format(" for {:.4g} req/s offered", a->rate) : "");
    fmt::print("  {:.3f} SM-ms per request, {:.1f} requests per run\n", c.sm_seconds_per_request * 1e3,
               c.requests_per_run);
    fmt::print("  why: {}\n", c.why);
  });
}

}  // namespace dstack::app
