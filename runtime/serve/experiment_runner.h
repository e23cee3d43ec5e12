#pragma once
// One experiment, every policy on the same workload: the arrivals are generated once from the
// config's seed and replayed for each policy on a fresh backend of the chosen target (the
// simulator, the simulator in real time, or a GPU: serving_target.h); each policy's metrics,
// requests, runs and Perfetto trace are written under OUT/<policy>/, and the comparison under OUT/.
// What `dstack run` and `make demo` call. CPU only.
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "models/graph.h"
#include "runtime/serve/clock_summary.h"
#include "runtime/serve/experiment_config.h"
#include "runtime/serve/metrics.h"
#include "runtime/sched/oracle.h"
#include "runtime/sched/policy.h"
#include "runtime/serve/serve_loop.h"
#include "runtime/serve/serving_target.h"

namespace dstack::serve {

// The longest experiment an ExperimentSetup accepts, in simulated (or wall) seconds.
constexpr double kMaxDurationS = 86400;

struct RunOptions {
  std::filesystem::path out_dir;
  std::string commit;
  // A shape-only graph for a config's `model` (a zoo name or an .onnx path).
  std::function<std::shared_ptr<const models::Graph>(const std::string&)> load_graph;
  // Called as each policy starts and ends (for a progress line).
  std::function<void(const std::string& policy, std::size_t index, std::size_t total)> on_policy;
};

struct PolicyOutcome {
  std::string policy;
  ServeMetrics metrics;
  std::size_t runs = 0;
  std::size_t layouts = 0;
  double wall_s = 0;  // host time the run took (not a result; reported for the speed of runs)
  std::optional<ClockSummary> clock;  // wall-clock backends: wake-up lateness and graph captures
};

struct ExperimentOutcome {
  std::vector<PolicyOutcome> policies;
  nlohmann::json provenance;
};

// One policy's run of an experiment: the loop's result, its metrics over the window, the backend it
// ran on (for its reports), and the host seconds serving took.
struct PolicyRun {
  ServeResult result;
  ServeMetrics metrics;
  std::unique_ptr<Backend> backend;
  nlohmann::json options;  // the policy's options from the config
  double wall_s = 0;
};

// What every policy of an experiment shares: the graphs, the arrivals generated once from the
// config's seed, the oracle the policies plan with, the models' SLOs and offered loads. Serving a
// policy makes a fresh backend of the target. Writes nothing (run_experiment does; capacity searches
// and benchmarks use this alone).
class ExperimentSetup {
 public:
  ExperimentSetup(const ExperimentConfig& config, const ServingTarget& target,
                  const std::function<std::shared_ptr<const models::Graph>(const std::string&)>& load_graph);
  ~ExperimentSetup();
  ExperimentSetup(const ExperimentSetup&) = delete;
  ExperimentSetup& operator=(const ExperimentSetup&) = delete;

  PolicyRun serve_policy(const std::string& policy) const;
  const std::vector<std::string>& names() const { return names_; }
  const std::vector<std::vector<double>>& arrivals() const { return arrivals_; }
  const ExperimentConfig& config() const { return config_; }

 private:
  const ExperimentConfig& config_;
  const ServingTarget& target_;
  std::vector<std::shared_ptr<const models::Graph>> graphs_;
  std::vector<std::string> names_;
  std::vector<std::vector<double>> arrivals_;
  std::unique_ptr<sched::ParallelismOracle> oracle_;
  sched::PolicyContext ctx_;
  std::vector<ModelLoad> loads_;
  double max_slo_ = 0;
};

// `target` decides where the runs execute; its provenance heads every output's.
ExperimentOutcome run_experiment(const ExperimentConfig& config, const ServingTarget& target,
                                 const RunOptions& options);

// The comparison table as CSV: one row per policy with throughput, its ratio to `temporal` (empty
// when temporal did not run), goodput, SM utilization (occupancy; empty when not measurable), SM
// allocation, SLO attainment, p99 and Jain's index.
void write_comparison_csv(std::ostream& out, const ExperimentOutcome& outcome);

}  // namespace dstack::serve
