#pragma once
// What `dstack run` and `dstack capacity` both take beside the config: other policies, duration,
// warm-up, seed and measured kernel times, applied to the config the same way by both; and the
// registries a config's names are checked against.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "runtime/serve/experiment_config.h"
#include "runtime/sim/cost_model.h"

namespace dstack::app {

struct ExperimentOptions {
  std::string policies;
  double duration = 0;   // 0: the config's
  double warmup = -1;    // < 0: the config's
  std::optional<uint64_t> seed;
  std::string kernel_times;
};

void add_experiment_options(CLI::App& cmd, ExperimentOptions& o);

// The zoo, the policy registry and the shipped devices.
serve::ConfigChoices config_choices();

// Loads `file` and applies the options. Throws std::invalid_argument for an unknown policy (listing
// the registered ones) or a duration that does not exceed the warm-up (naming the option to change).
serve::ExperimentConfig load_config(const std::string& file, const ExperimentOptions& o);

// The roofline (null) or the cost model the measured kernel times calibrate.
std::shared_ptr<const sim::CostModel> options_cost(const ExperimentOptions& o);

}  // namespace dstack::app
