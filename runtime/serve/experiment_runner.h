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
#include "runtime/serve/serving_target.h"

namespace dstack::serve {

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

// `target` decides where the runs execute; its provenance heads every output's.
ExperimentOutcome run_experiment(const ExperimentConfig& config, const ServingTarget& target,
                                 const RunOptions& options);

// The comparison table as CSV: one row per policy with throughput, its ratio to `temporal` (empty
// when temporal did not run), goodput, SM utilization (occupancy; empty when not measurable), SM
// allocation, SLO attainment, p99 and Jain's index.
void write_comparison_csv(std::ostream& out, const ExperimentOutcome& outcome);

}  // namespace dstack::serve
