// `dstack knee`: the parallelism model's predicted latency curve, knee and usable parallelism for a
// model and batch (runtime/analysis/parallelism_model.h); with a profile (measured, or simulated on
// the spot with --simulate) the profiled knee beside it and the prediction's error.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "app/cli_common.h"
#include "app/commands.h"
#include "models/plan.h"
#include "runtime/analysis/parallelism_model.h"
#include "runtime/analysis/profile.h"
#include "runtime/core/median.h"

namespace dstack::app {
namespace {

struct KneeArgs {
  std::string models;
  int64_t batch = 0;
  std::string batches;
  std::string device = "h100_sxm";
  std::string precision = "fp32";
  std::string dispatch = "graph";
  double epsilon = 0.05;
  std::string profile;
  bool simulate = false;
  std::string kernel_times;
  bool json = false;
  int kernels_at = 0;  // print the per-kernel estimate at this many SMs
};

struct KneeRow {
  std::string model;
  int64_t batch = 0;
  analysis::LatencyCurve predicted;
  int knee = 0;
  double usable = 0;
  analysis::LatencyCurve profiled;  // empty without a profile
  std::optional<int> profiled_knee;
  double curve_error = 0;  // mean |predicted - profiled| / profiled over the common SMs
};

double latency_at(const analysis::LatencyCurve& c, int sms) {
  for (const auto& [s, t] : c)
    if (s == sms) return t;
  return NAN;
}

nlohmann::json row_json(const KneeRow& r) {
  nlohmann::json curve = nlohmann::json::array();
  for (const auto& [s, t] : r.predicted) {
    nlohmann::json pt = {{"sms", s}, {"latency_ms", t * 1e3}};
    const double p = latency_at(r.profiled, s);
    if (!std::isnan(p)) pt["profiled_ms"] = p * 1e3;
    curve.push_back(pt);
  }
  nlohmann::json j = {{"model", r.model},         {"batch", r.batch},  {"knee_sms", r.knee},
                      {"usable_parallelism", r.usable}, {"curve", curve}};
  if (r.profiled_knee) {
    j["profiled_knee_sms"] = *r.profiled_knee;
    j["knee_error_sms"] = r.knee - *r.profiled_knee;
    j["curve_mean_relative_error"] = r.curve_error;
  }
  return j;
}

void print_curve(const KneeRow& r) {
  fmt::print("{:>5} {:>14} {:>14}\n", "SMs", "predicted_ms", r.profiled.empty() ? "" : "profiled_ms");
  for (const auto& [s, t] : r.predicted) {
    const double p = latency_at(r.profiled, s);
    const std::string mark = std::string(s == r.knee ? " <- knee" : "") +
                             (r.profiled_knee && s == *r.profiled_knee ? " <- profiled knee" : "");
    fmt::print("{:>5} {:>14.3f} {:>14}{}\n", s, t * 1e3, std::isnan(p) ? "" : fmt::format("{:.3f}", p * 1e3), mark);
  }
}

void print_kernels(const sim::SimPlan& plan, const analysis::LatencyEstimate& e) {
  fmt::print("{} at batch {} on {} SMs: predicted {:.3f} ms\n", plan.model, plan.batch, e.sms, e.latency_s * 1e3);
  fmt::print("{:>4}  {:<40} {:>8} {:>6} {:>6} {:>6} {:>11} {:>11} {:>10}\n", "#", "kernel", "blocks", "blk/SM", "waves",
             "U_k", "compute_us", "memory_us", "time_us");
  for (const auto& k : e.kernels)
    fmt::print("{:>4}  {:<40} {:>8} {:>6} {:>6} {:>6} {:>11.2f} {:>11.2f} {:>10.2f}\n", k.kernel,
               plan.kernels[static_cast<std::size_t>(k.kernel)].kernel, k.blocks, k.blocks_per_sm, k.waves,
               k.usable_sms, k.compute_s * 1e6, k.memory_s * 1e6, k.time_s * 1e6);
}

}  // namespace

void register_knee(CLI::App& app) {
  auto a = std::make_shared<KneeArgs>();
  CLI::App* cmd = app.add_subcommand("knee", "Predicted latency curve and knee (parallelism model), vs a profile");
  cmd->add_option("models", a->models, "Zoo models or .onnx files separated by commas, or 'all'")->required();
  cmd->add_option("--batch,-b", a->batch, "Batch size")->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--batches", a->batches, "Several batch sizes, e.g. 1,2,4,8,16,32,64 (a table)");
  cmd->add_option("--device", a->device, "Device description (dstack sim devices)")->default_str(a->device);
  cmd->add_option("--precision", a->precision, "fp32, fp16 or bf16")->default_str("fp32");
  cmd->add_option("--dispatch", a->dispatch, "graph or per-kernel (launch costs)")->default_str("graph");
  cmd->add_option("--epsilon", a->epsilon, "The knee: fewest SMs within (1 + epsilon) of the whole GPU's latency")
      ->check(CLI::NonNegativeNumber)
      ->default_str("0.05");
  cmd->add_option("--profile", a->profile, "A profile CSV (dstack profile) to compare with");
  cmd->add_flag("--simulate", a->simulate, "Compare with a profile simulated now (fast mode) instead");
  cmd->add_option("--kernel-times", a->kernel_times, "Measured kernel times calibrating the cost model");
  cmd->add_option("--kernels-at", a->kernels_at, "Also print every kernel's estimate (blocks, occupancy, waves, "
                  "usable SMs, compute and memory terms) on this many SMs")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", a->json, "Print JSON: knee_sms, usable_parallelism, curve [{sms, latency_ms}], ...");
  cmd->callback([a] {
    if (!a->profile.empty() && a->simulate) throw std::invalid_argument("give --profile or --simulate, not both");
    if (a->batch > 0 && !a->batches.empty()) throw std::invalid_argument("give --batch or --batches, not both");
    const auto models = parse_model_list(a->models);
    const auto batches = a->batches.empty() ? std::vector<int64_t>{a->batch > 0 ? a->batch : 1}
                                            : parse_int_list(a->batches, "--batches");
    const auto precision = kernels::parse_precision(a->precision);
    const sim::DeviceSpec d = sim::load_device(a->device);
    const auto cost = make_cost_model(a->kernel_times);
    const analysis::ParallelismOptions opts{a->epsilon, parse_dispatch_mode(a->dispatch)};
    std::vector<sim::ProfilePoint> points;
    nlohmann::json profile_source;
    if (!a->profile.empty()) {
      const analysis::Profile p = analysis::read_profile(a->profile);
      for (const auto& r : p.models) points.push_back(r.point);
      profile_source = {{"file", a->profile}, {"provenance", p.provenance}};
    }

    std::vector<KneeRow> rows;
    Progress bar("knee");
    const std::size_t total = models.size() * batches.size();
    for (const auto& m : models)
      for (int64_t b : batches) {
        models::Plan plan = models::lower(shape_graph(m), b, precision);
        plan.model = m;
        const auto sp = std::make_shared<const sim::SimPlan>(sim::prepare_plan(plan, d, *cost));
        const analysis::ParallelismModel pm(*sp, d, opts);
        KneeRow r{m, b, pm.curve(), pm.knee_sms(), pm.usable_parallelism(), {}, {}, 0};
        if (a->simulate) {
          const analysis::SimProfileOptions so{{b}, pm.allowed_sms(), precision, sim::SimMode::fast, opts.dispatch};
          for (const auto& row : analysis::simulated_profile(shape_graph(m), m, so, d, *cost, commit_string()).models)
            points.push_back(row.point);
        }
        r.profiled = analysis::profiled_curve(points, m, b, precision);
        if (!r.profiled.empty()) {
          r.profiled_knee = analysis::knee_of(r.profiled, a->epsilon);
          double sum = 0;
          int n = 0;
          for (const auto& [s, t] : r.profiled) {
            if (s > d.sm_count) continue;
            sum += std::abs(pm.latency_s(s) - t) / t;
            ++n;
          }
          r.curve_error = n > 0 ? sum / n : 0;
        }
        if (a->kernels_at > 0 && !a->json) print_kernels(*sp, pm.estimate(a->kernels_at));
        rows.push_back(std::move(r));
        bar.update(rows.size(), total);
      }

    std::vector<double> knee_errors, curve_errors;
    for (const auto& r : rows)
      if (r.profiled_knee) {
        knee_errors.push_back(std::abs(r.knee - *r.profiled_knee));
        curve_errors.push_back(r.curve_error);
      }
    const std::string source = a->simulate ? "simulated now (fast mode)" : a->profile.empty() ? "" : a->profile;
    const bool single = rows.size() == 1;
    if (a->json) {
      nlohmann::json j = single ? row_json(rows[0]) : nlohmann::json::object();
      if (!single) {
        j["results"] = nlohmann::json::array();
        for (const auto& r : rows) j["results"].push_back(row_json(r));
      }
      j["device"] = d.name;
      j["device_file"] = d.file;
      j["precision"] = kernels::precision_name(precision);
      j["epsilon"] = a->epsilon;
      j["predicted_by"] = "parallelism model (runtime/analysis/parallelism_model.h), cost model " + cost->name();
      j["commit"] = commit_string();
      if (!source.empty()) {
        j["profile"] = a->simulate ? nlohmann::json{{"simulated", true}, {"mode", "fast"}} : profile_source;
        j["median_knee_error_sms"] = median(knee_errors);
        j["median_curve_relative_error"] = median(curve_errors);
      }
      std::cout << j.dump(2) << "\n";
      return;
    }
    fmt::print("parallelism model on {} ({}), {}, epsilon {:.0f}%, cost model {}; commit {}\n", d.name, d.full_name,
               kernels::precision_name(precision), a->epsilon * 100, cost->name(), commit_string());
    if (!source.empty()) fmt::print("profile: {}\n", source);
    if (single) {
      const auto& r = rows[0];
      fmt::print("{} at batch {}: knee {} SMs, usable parallelism {:.1f} SMs{}\n", r.model, r.batch, r.knee, r.usable,
                 r.profiled_knee ? fmt::format("; profiled knee {} SMs (error {:+d}), curve error {:.1f}%",
                                               *r.profiled_knee, r.knee - *r.profiled_knee, 100 * r.curve_error)
                                 : "");
      print_curve(r);
      return;
    }
    fmt::print("{:<16} {:>6} {:>10} {:>8} {:>13} {:>10} {:>11} {:>10}\n", "model", "batch", "knee_SMs", "usable",
               "T(knee)_ms", "T(all)_ms", "prof_knee", "curve_err");
    for (const auto& r : rows)
      fmt::print("{:<16} {:>6} {:>10} {:>8.1f} {:>13.3f} {:>10.3f} {:>11} {:>10}\n", r.model, r.batch, r.knee, r.usable,
                 latency_at(r.predicted, r.knee) * 1e3, r.predicted.back().second * 1e3,
                 r.profiled_knee ? fmt::format("{} ({:+d})", *r.profiled_knee, r.knee - *r.profiled_knee) : "-",
                 r.profiled_knee ? fmt::format("{:.1f}%", 100 * r.curve_error) : "-");
    if (!knee_errors.empty()) {
      const auto exact = std::count(knee_errors.begin(), knee_errors.end(), 0.0);
      fmt::print("knee error vs profile: median {:.0f} SMs, max {:.0f} SMs, exact in {} of {}; curve error median "
                 "{:.1f}%, max {:.1f}%\n",
                 median(knee_errors), *std::max_element(knee_errors.begin(), knee_errors.end()), exact,
                 knee_errors.size(), 100 * median(curve_errors),
                 100 * *std::max_element(curve_errors.begin(), curve_errors.end()));
    }
  });
}

}  // namespace dstack::app
