#include "runtime/serve/experiment_runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>

#include "runtime/sched/oracle.h"
#include "runtime/core/atomic_file.h"
#include "runtime/sched/registry.h"
#include "runtime/serve/perfetto_trace.h"
#include "runtime/serve/serve_loop.h"

namespace dstack::serve {
namespace fs = std::filesystem;
namespace {

// The configured mean rate of a model over [from, to): the spec's integral for rate-driven kinds,
// the generated arrivals for traces.
double offered_rps(const ModelConfig& m, const std::vector<double>& arrivals, double from, double to) {
  if (m.workload.kind == ArrivalKind::Trace || m.workload.kind == ArrivalKind::Azure) {
    const auto n = std::count_if(arrivals.begin(), arrivals.end(), [&](double t) { return t >= from && t < to; });
    return static_cast<double>(n) / (to - from);
  }
  return expected_arrivals(m.workload, from, to) / (to - from);
}

void write_requests_csv(std::ostream& out, const ServeResult& r, const ExperimentConfig& c) {
  out << "model,arrival_s,dispatched_s,finished_s,batch,outcome,reason\n";
  for (const auto& q : r.requests)
    out << fmt::format("{},{:.9f},{:.9f},{:.9f},{},{},{}\n", c.models[static_cast<std::size_t>(q.model)].name,
                       q.arrival_s, q.dispatched_s, q.finished_s, q.batch, outcome_name(q.outcome),
                       reject_reason_name(q.reason));
}

void write_runs_csv(std::ostream& out, const ServeResult& r, const ExperimentConfig& c) {
  out << "model,batch,layout,partition,first_sm,sms,submitted_s,started_s,finished_s\n";
  for (const auto& x : r.runs)
    out << fmt::format("{},{},{},{},{},{},{:.9f},{:.9f},{:.9f}\n", c.models[static_cast<std::size_t>(x.model)].name,
                       x.batch, x.layout, x.partition, x.first_sm, x.partition_sms, x.submitted_s, x.started_s,
                       x.finished_s);
}

}  // namespace

ExperimentSetup::ExperimentSetup(const ExperimentConfig& c, const ServingTarget& target,
                                 const std::function<std::shared_ptr<const models::Graph>(const std::string&)>& load_graph)
    : config_(c), target_(target) {
  // Policies wake every epoch (0.5 s by default) and metrics bin by the second: a duration of
  // years would run for days without a word.
  if (!(c.duration_s <= kMaxDurationS))
    throw std::invalid_argument(fmt::format("duration_s {:g} s exceeds the limit of {:g} s (a day of simulated "
                                            "time); split a longer study into several runs",
                                            c.duration_s, kMaxDurationS));
  for (const auto& m : c.models) {
    graphs_.push_back(load_graph(m.model));
    names_.push_back(m.name);
    try {
      arrivals_.push_back(generate_arrivals(m.workload, c.duration_s, model_seed(c.seed, m.name)));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("model {}: {}", m.name, e.what()));
    }
  }
  oracle_ = std::make_unique<sched::ParallelismOracle>(target.device, graphs_, names_, c.precision, target.cost);
  ctx_.oracle = oracle_.get();
  ctx_.precision = c.precision;
  for (std::size_t i = 0; i < c.models.size(); ++i) {
    const auto& m = c.models[i];
    const double rate = offered_rps(m, arrivals_[i], 0, c.duration_s);
    ctx_.models.push_back({m.name, m.slo_ms * 1e-3, rate, m.priority == Priority::High,
                           static_cast<int64_t>(m.max_queue)});
    loads_.push_back({m.name, m.slo_ms, offered_rps(m, arrivals_[i], c.warmup_s, c.duration_s)});
    max_slo_ = std::max(max_slo_, m.slo_ms * 1e-3);
  }
}

ExperimentSetup::~ExperimentSetup() = default;

PolicyRun ExperimentSetup::serve_policy(const std::string& name) const {
  const ExperimentConfig& c = config_;
  PolicyRun out;
  out.backend = target_.make_backend();
  for (std::size_t i = 0; i < graphs_.size(); ++i) out.backend->add_model(names_[i], graphs_[i]);
  sched::PolicyContext ctx = ctx_;
  ctx.options = c.policy_options.contains(name) ? c.policy_options[name] : nlohmann::json::object();
  // A policy's first layout does not depend on the clock, so a scratch copy tells the GPU what to
  // prepare (green contexts, CUDA graphs) before serving; later layouts are prepared as they come.
  if (target_.measured) out.backend->prepare(sched::make_policy(name)->start(ctx));
  auto policy = sched::make_policy(name);
  const auto t0 = std::chrono::steady_clock::now();
  out.result = serve(*out.backend, *policy, ctx, arrivals_, {c.duration_s, max_slo_, name, c.warmup_s});
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.metrics = compute_metrics(out.result.requests, loads_, {c.warmup_s, c.duration_s},
                                busy_sm_seconds(out.result, c.warmup_s, c.duration_s), target_.device.sm_count,
                                out.result.window_occupied_sm_seconds);
  for (std::size_t m = 0; m < out.metrics.models.size(); ++m) out.metrics.models[m].peak_queued = out.result.peak_queued.at(m);
  out.options = ctx.options;
  return out;
}

ExperimentOutcome run_experiment(const ExperimentConfig& c, const ServingTarget& target, const RunOptions& o) {
  require_writable_folder(o.out_dir);
  const sim::DeviceSpec& device = target.device;
  const ExperimentSetup setup(c, target, o.load_graph);
  const std::vector<std::string>& names = setup.names();
  ExperimentOutcome out;
  out.provenance = target.provenance;
  out.provenance.update({{"commit", o.commit}, {"config", c.file.string()}, {"experiment", c.name}, {"seed", c.seed}});
  for (std::size_t k = 0; k < c.policies.size(); ++k) {
    const std::string& name = c.policies[k];
    if (o.on_policy) o.on_policy(name, k, c.policies.size());
    const PolicyRun run = setup.serve_policy(name);
    const ServeResult& r = run.result;
    const std::unique_ptr<Backend>& backend = run.backend;
    PolicyOutcome po;
    po.policy = name;
    po.metrics = run.metrics;
    po.runs = r.runs.size();
    po.layouts = r.layouts.size();
    po.wall_s = run.wall_s;
    nlohmann::json prov = out.provenance;
    prov["policy"] = name;
    prov["policy_options"] = run.options;
    prov["backend_description"] = backend->describe();
    if (const auto report = backend->wall_clock_report()) {
      po.clock = summarize_clock(*report, r.clock_start_s, c.warmup_s, c.duration_s);
      prov["wall_clock"] = clock_summary_json(*po.clock);
    }
    const fs::path dir = o.out_dir / name;
    // Each file whole or not at all (AtomicFile): an interrupted run leaves none half-written.
    {
      AtomicFile f(dir / "requests.csv");
      write_requests_csv(f.out(), r, c);
      f.commit();
    }
    {
      AtomicFile f(dir / "runs.csv");
      write_runs_csv(f.out(), r, c);
      f.commit();
    }
    {
      AtomicFile f(dir / "metrics.csv");
      write_metrics_csv(f.out(), po.metrics);
      f.commit();
    }
    write_file_atomically(dir / "metrics.json", metrics_to_json(po.metrics, prov).dump(2) + "\n");
    ServeTrace trace(fmt::format("{} ({} SMs), {}, policy {}", device.name, device.sm_count, target.label, name));
    for (const auto& x : r.runs)
      trace.add_slice({x.partition, x.first_sm, x.partition_sms, names[static_cast<std::size_t>(x.model)], x.batch,
                       x.started_s, x.finished_s});
    {
      AtomicFile f(dir / "trace.json");
      trace.write(f.out(), prov);
      f.commit();
    }
    out.policies.push_back(std::move(po));
  }
  write_file_atomically(o.out_dir / "config.json", to_json(c).dump(2) + "\n");
  fs::copy_file(c.file, o.out_dir / "config.yaml", fs::copy_options::overwrite_existing);
  {
    AtomicFile f(o.out_dir / "comparison.csv");
    write_comparison_csv(f.out(), out);
    f.commit();
  }
  nlohmann::json cmp = {{"provenance", out.provenance}, {"policies", nlohmann::json::array()}};
  for (const auto& p : out.policies) {
    nlohmann::json row = metrics_to_json(p.metrics, {{"policy", p.policy}});
    if (p.clock) row["wall_clock"] = clock_summary_json(*p.clock);
    cmp["policies"].push_back(std::move(row));
  }
  write_file_atomically(o.out_dir / "comparison.json", cmp.dump(2) + "\n");
  return out;
}

void write_comparison_csv(std::ostream& out, const ExperimentOutcome& e) {
  const PolicyOutcome* temporal = nullptr;
  for (const auto& p : e.policies)
    if (p.policy == "temporal") temporal = &p;
  auto opt = [](const std::optional<double>& v, double scale = 1) {
    return v ? fmt::format("{:.6g}", *v * scale) : std::string();
  };
  out << "policy,throughput_rps,throughput_vs_temporal,goodput_rps,sm_utilization,sm_allocated,slo_attainment,"
         "p99_ms,jain_fairness,rejected,late\n";
  for (const auto& p : e.policies) {
    const auto& a = p.metrics.all;
    const std::string ratio = temporal && temporal->metrics.all.throughput_rps > 0
                                  ? fmt::format("{:.4f}", a.throughput_rps / temporal->metrics.all.throughput_rps)
                                  : std::string();
    out << fmt::format("{},{:.6g},{},{:.6g},{},{:.6g},{},{},{},{},{}\n", p.policy, a.throughput_rps, ratio,
                       a.goodput_rps, opt(p.metrics.sm_utilization), p.metrics.sm_allocated, opt(a.slo_attainment),
                       opt(a.p99_ms),
                       opt(p.metrics.jain_fairness), a.rejected, a.late);
  }
}

}  // namespace dstack::serve
