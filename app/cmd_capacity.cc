// `dstack capacity CONFIG.yaml`: per policy, the largest load factor at which the experiment still
// meets its SLOs, searched by serving the config's seeded arrivals scaled as `dstack run --load`
// scales them (runtime/serve/capacity.h has the rule). Simulator only: a search serves tens of runs.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/cli_common.h"
#include "app/commands.h"
#include "app/experiment_options.h"
#include "app/interrupt.h"
#include "models/zoo.h"
#include "runtime/core/atomic_file.h"
#include "runtime/sched/registry.h"
#include "runtime/serve/capacity.h"
#include "runtime/serve/experiment_runner.h"
#include "runtime/sim/device_spec.h"

namespace dstack::app {
namespace {
namespace fs = std::filesystem;

struct CapacityArgs {
  std::string config;
  ExperimentOptions common;
  double target = 0.99;
  double per_model = 0.97;
  double resolution = 0.05;
  double max_load = 8;
  std::string out;
};

// The experiment at one load factor. ExperimentSetup keeps a reference to its config, so the scaled
// copy lives beside it, at a fixed address.
struct LoadedExperiment {
  serve::ExperimentConfig config;
  std::unique_ptr<serve::ExperimentSetup> setup;
};

// Probes every search asks, at most, for this rule and these bounds: the widest final bracket after
// the longest bracketing walk, in either direction. Sizes the progress bar only.
std::size_t probe_bound(const serve::CapacitySearch& s) {
  auto bisections = [&](double width) {
    return width > s.resolution ? static_cast<std::size_t>(std::ceil(std::log2(width / s.resolution))) : 0;
  };
  const double first = std::min(1.0, s.max_load);
  std::size_t up = 1;
  double below = first;  // the last doubling short of max_load
  while (below * 2 < s.max_load) {
    below *= 2;
    ++up;
  }
  if (first < s.max_load) ++up;
  std::size_t down = 1;
  for (double l = first; l > s.resolution; l = std::max(l / 2, s.resolution)) ++down;
  return std::max(up + bisections(s.max_load - below), down + bisections(first / 2));
}

std::string percent(const std::optional<double>& v) { return v ? fmt::format("{:.1f}%", 100 * *v) : "-"; }
std::string csv_number(const std::optional<double>& v) { return v ? fmt::format("{:.6g}", *v) : ""; }
nlohmann::json json_number(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

struct PolicyCapacity {
  std::string policy;
  serve::CapacityResult result;
  // dstack's capacity over this policy's: empty when either has none. `bound` says which way it is
  // only a bound, when a capacity reached --max-load and so is a lower bound itself.
  std::optional<double> dstack_ratio;
  std::string bound;  // "" | ">=" | "<="
};

void fill_ratios(std::vector<PolicyCapacity>& rows) {
  const PolicyCapacity* dstack = nullptr;
  for (const auto& r : rows)
    if (r.policy == "dstack") dstack = &r;
  if (!dstack || !dstack->result.capacity || *dstack->result.capacity <= 0) return;
  for (auto& r : rows) {
    if (!r.result.capacity || *r.result.capacity <= 0) continue;
    const bool dstack_at_max = dstack->result.at_max_load, other_at_max = r.result.at_max_load;
    // Both at --max-load: neither capacity was found, so their ratio is unknown, not 1.
    if (&r != dstack && dstack_at_max && other_at_max) continue;
    r.dstack_ratio = *dstack->result.capacity / *r.result.capacity;
    if (&r != dstack) r.bound = dstack_at_max ? ">=" : other_at_max ? "<=" : "";
  }
}

// A load factor with one digit more than the resolution resolves (x1.344 at 0.05), trailing zeros
// dropped (x0.75, x8): enough to tell the probes apart, no more.
std::string load_text(double load, double resolution) {
  const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(resolution)))) + 1;
  std::string text = fmt::format("{:.{}f}", load, decimals);
  if (text.find('.') != std::string::npos) {
    text.erase(text.find_last_not_of('0') + 1);
    if (text.back() == '.') text.pop_back();
  }
  return "x" + text;
}

std::string capacity_cell(const serve::CapacityResult& r, double resolution) {
  if (!r.capacity) return "< " + load_text(r.smallest_load(), resolution);
  return (r.at_max_load ? ">= " : "") + load_text(*r.capacity, resolution);
}

nlohmann::json probe_json(const serve::ProbeResult& p) {
  return {{"load", p.load},
          {"pass", p.pass},
          {"slo_attainment", json_number(p.slo_attainment)},
          {"worst_model", p.worst_model},
          {"worst_model_attainment", json_number(p.worst_model_attainment)},
          {"goodput_rps", p.goodput_rps}};
}

void write_outputs(const fs::path& dir, const std::vector<PolicyCapacity>& rows, const nlohmann::json& provenance) {
  {
    AtomicFile file(dir / "capacity.csv");
    std::ostream& f = file.out();
    f << "policy,capacity,slo_attainment_at_capacity,goodput_rps_at_capacity,dstack_over_policy,probes\n";
    for (const auto& r : rows) {
      const serve::ProbeResult* at = r.result.at_capacity();
      f << fmt::format("{},{},{},{},{},{}\n", r.policy, csv_number(r.result.capacity),
                       at ? csv_number(at->slo_attainment) : "", at ? fmt::format("{:.6g}", at->goodput_rps) : "",
                       csv_number(r.dstack_ratio), r.result.probes.size());
    }
    file.commit();
  }
  {
    AtomicFile file(dir / "probes.csv");
    std::ostream& f = file.out();
    f << "policy,load,slo_attainment,worst_model,worst_model_attainment,goodput_rps,pass\n";
    for (const auto& r : rows)
      for (const auto& p : r.result.probes)
        f << fmt::format("{},{:.6g},{},{},{},{:.6g},{}\n", r.policy, p.load, csv_number(p.slo_attainment),
                         p.worst_model, csv_number(p.worst_model_attainment), p.goodput_rps, p.pass ? 1 : 0);
    file.commit();
  }
  nlohmann::json policies = nlohmann::json::array();
  for (const auto& r : rows) {
    const serve::ProbeResult* at = r.result.at_capacity();
    nlohmann::json probes = nlohmann::json::array();
    for (const auto& p : r.result.probes) probes.push_back(probe_json(p));
    policies.push_back({{"policy", r.policy},
                        {"capacity", json_number(r.result.capacity)},
                        {"at_max_load", r.result.at_max_load},
                        {"slo_attainment_at_capacity", at ? json_number(at->slo_attainment) : nlohmann::json()},
                        {"goodput_rps_at_capacity", at ? nlohmann::json(at->goodput_rps) : nlohmann::json()},
                        {"dstack_over_policy", json_number(r.dstack_ratio)},
                        {"dstack_over_policy_bound", r.bound},
                        {"probes", probes}});
  }
  write_file_atomically(dir / "capacity.json",
                        nlohmann::json{{"provenance", provenance}, {"policies", policies}}.dump(2) + "\n");
}

}  // namespace

void register_capacity(CLI::App& app) {
  auto a = std::make_shared<CapacityArgs>();
  CLI::App* cmd = app.add_subcommand(
      "capacity", "Per policy, the largest load factor at which an experiment meets its SLOs (simulated)");
  cmd->add_option("config", a->config, "Experiment YAML (runtime/serve/README.md); its backend must be sim")
      ->required();
  cmd->add_option("--target", a->target, "Fraction of all requests that must meet their SLOs, in (0, 1]")
      ->default_str("0.99");
  cmd->add_option("--per-model", a->per_model, "Fraction of each model's requests that must meet its SLO, in (0, 1]")
      ->default_str("0.97");
  cmd->add_option("--resolution", a->resolution, "Stop bisecting when the bracket is this narrow (load factor)")
      ->default_str("0.05");
  cmd->add_option("--max-load", a->max_load, "Largest load factor probed")->default_str("8");
  add_experiment_options(*cmd, a->common);
  cmd->add_option("-o,--out", a->out, "Output folder (default: out/<experiment name>-capacity)");
  cmd->callback([a] {
    serve::CapacitySearch search;
    search.criteria = {a->target, a->per_model};
    search.resolution = a->resolution;
    search.max_load = a->max_load;
    serve::validate(search);

    serve::ExperimentConfig c = load_config(a->config, a->common);
    if (c.backend == serve::ServeBackend::Gpu)
      throw std::invalid_argument(fmt::format(
          "{} says backend gpu, but a capacity search serves tens of runs (every policy at each load it probes): "
          "run it on the simulator (backend: sim in a copy of the config), calibrated to the GPU with "
          "--kernel-times FILE (a measured profile's P.kernels.csv)",
          a->config));
    const fs::path out = a->out.empty() ? "out/" + c.name + "-capacity" : a->out;
    require_writable_folder(out);

    const std::shared_ptr<const sim::CostModel> cost = options_cost(a->common);
    // The device and the cost model do not depend on the load, so one target serves every probe;
    // each serve_policy still makes a fresh simulated backend.
    const serve::ServingTarget target = serve::sim_target(c, {sim::SimMode::fast, cost, false});
    const auto load_graph = [](const std::string& spec) {
      return std::shared_ptr<const models::Graph>(&shape_graph(spec), [](const models::Graph*) {});
    };
    // Every policy's search probes the same loads until their answers differ, so the arrivals and
    // the oracle are built once per load and shared.
    std::map<double, std::unique_ptr<LoadedExperiment>> experiments;
    auto experiment_at = [&](double load) -> const serve::ExperimentSetup& {
      std::unique_ptr<LoadedExperiment>& e = experiments[load];
      if (!e) {
        e = std::make_unique<LoadedExperiment>();
        e->config = c;
        serve::scale_load(e->config, load);
        e->setup = std::make_unique<serve::ExperimentSetup>(e->config, target, load_graph);
      }
      return *e->setup;
    };

    const std::size_t bound = probe_bound(search);
    const std::size_t total = bound * c.policies.size();
    auto bar = std::make_unique<Progress>("capacity " + c.name);
    report_interrupts(fmt::format("capacity {} into {}", c.name, out.string()));
    std::vector<PolicyCapacity> rows;
    for (std::size_t k = 0; k < c.policies.size(); ++k) {
      const std::string& policy = c.policies[k];
      std::string searched;
      for (const auto& r : rows)
        searched += fmt::format("{}{} {}", searched.empty() ? "" : ", ", r.policy,
                                capacity_cell(r.result, search.resolution));
      set_interrupt_progress(fmt::format("{}{} was being searched; nothing was written (the outputs are written "
                                         "once every policy's search is done)",
                                         searched.empty() ? "" : "searched " + searched + "; ", policy));
      std::size_t probed = 0;
      bar->update(k * bound, total);
      const auto probe = [&](double load) {
        serve::ProbeResult r;
        try {
          r = serve::evaluate_probe(experiment_at(load).serve_policy(policy).metrics, load, search.criteria);
        } catch (const std::exception& e) {
          throw std::runtime_error(fmt::format("policy {} failed at load x{}: {}", policy, load, e.what()));
        }
        ++probed;
        bar->update(k * bound + std::min(probed, bound), total);
        return r;
      };
      rows.push_back({policy, serve::find_capacity(probe, search), std::nullopt, ""});
    }
    bar->update(total, total);
    bar.reset();  // ends its line before the table
    fill_ratios(rows);

    nlohmann::json provenance = target.provenance;
    provenance.update({{"commit", commit_string()},
                       {"config", c.file.string()},
                       {"experiment", c.name},
                       {"seed", c.seed},
                       {"target", search.criteria.target},
                       {"per_model", search.criteria.per_model},
                       {"resolution", search.resolution},
                       {"max_load", search.max_load},
                       {"duration_s", c.duration_s},
                       {"warmup_s", c.warmup_s},
                       {"search", serve::describe_search(search)}});
    write_outputs(out, rows, provenance);

    for (const std::string& note : target.notes) fmt::print("note: {}\n", note);
    fmt::print("{}: {} {} ({} models, {} s, warm-up {} s, seed {}){}; commit {}\n", target.label, c.name,
               target.where, c.models.size(), c.duration_s, c.warmup_s, c.seed, target.details,
               provenance["commit"].get<std::string>());
    fmt::print("capacity at SLO: the largest load factor (x1 = the config's rates) at which >= {:g}% of all requests "
               "and >= {:g}% of each model's meet their SLOs\n",
               100 * search.criteria.target, 100 * search.criteria.per_model);
    fmt::print("{:<10} {:>10} {:>8} {:>11} {:>14} {:>7}\n", "policy", "capacity", "SLO_att", "good_req/s",
               "dstack/policy", "probes");
    for (const auto& r : rows) {
      const serve::ProbeResult* at = r.result.at_capacity();
      const std::string ratio = r.dstack_ratio ? fmt::format("{}{:.2f}x", r.bound, *r.dstack_ratio) : "-";
      fmt::print("{:<10} {:>10} {:>8} {:>11} {:>14} {:>7}\n", r.policy, capacity_cell(r.result, search.resolution),
                 at ? percent(at->slo_attainment) : "-", at ? fmt::format("{:.1f}", at->goodput_rps) : "-", ratio,
                 r.result.probes.size());
    }
    fmt::print("{}\n", serve::describe_search(search));
    bool any_capacity = false;
    std::string missing;
    for (const auto& r : rows) {
      if (r.result.capacity) {
        any_capacity = true;
        continue;
      }
      const serve::ProbeResult* best = r.result.best_probe();
      const std::string line =
          fmt::format("no load down to {} meets the target for {}; best attainment seen: {}",
                      load_text(r.result.smallest_load(), search.resolution), r.policy,
                      best ? fmt::format("{:.1f}% at {}", 100 * *best->slo_attainment,
                                         load_text(best->load, search.resolution))
                           : std::string("none (no request arrived in the window)"));
      fmt::print("{}\n", line);
      missing += (missing.empty() ? "" : "; ") + line;
    }
    fmt::print("probes: {}/probes.csv; capacities: {}/capacity.csv, {}/capacity.json\n", out.string(), out.string(),
               out.string());
    if (!any_capacity)
      throw std::runtime_error(missing +
                               ": check that the config's SLOs can be met by one request alone "
                               "(`dstack sim run MODEL --batch 1`), or lower --target / --per-model");
  });
}

}  // namespace dstack::app
