#include "app/experiment_options.h"

#include <fmt/format.h>

#include <stdexcept>

#include "app/cli_common.h"
#include "models/zoo.h"
#include "runtime/sched/registry.h"
#include "runtime/sim/device_spec.h"

namespace dstack::app {

void add_experiment_options(CLI::App& cmd, ExperimentOptions& o) {
  cmd.add_option("--policies", o.policies, "Override the config's policies, e.g. dstack,gslice");
  cmd.add_option("--duration", o.duration, "Override the config's duration, seconds")->check(CLI::PositiveNumber);
  cmd.add_option("--warmup", o.warmup, "Override the config's warm-up, seconds (excluded from the metrics)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--seed", o.seed, "Override the config's seed (arrivals and every random draw)");
  cmd.add_option("--kernel-times", o.kernel_times,
                 "Measured kernel times calibrating the simulator and the policies' predictions (e.g. a measured "
                 "profile's P.kernels.csv; kernels without a measurement keep the roofline)");
}

serve::ConfigChoices config_choices() {
  serve::ConfigChoices c;
  for (const auto& e : models::zoo()) c.models.push_back(e.name);
  c.policies = sched::policy_names();
  c.devices = sim::shipped_device_names();
  c.check_policy_options = sched::check_policy_options;
  return c;
}

serve::ExperimentConfig load_config(const std::string& file, const ExperimentOptions& o) {
  serve::ExperimentConfig c = serve::load_experiment_config(file, config_choices());
  if (!o.policies.empty()) {
    c.policies.clear();
    for (const auto& p : parse_model_list(o.policies)) {
      sched::make_policy(p);  // an unknown name fails here, listing the registered ones
      c.policies.push_back(p);
    }
  }
  if (o.duration > 0) c.duration_s = o.duration;
  if (o.warmup >= 0) c.warmup_s = o.warmup;
  if ((o.duration > 0 || o.warmup >= 0) && c.duration_s <= c.warmup_s)
    throw std::invalid_argument(fmt::format("the duration ({} s) must exceed the warm-up ({} s): {}", c.duration_s,
                                            c.warmup_s, o.duration > 0 ? "raise --duration or lower --warmup"
                                                                       : "lower --warmup"));
  if (o.seed) c.seed = *o.seed;
  return c;
}

std::shared_ptr<const sim::CostModel> options_cost(const ExperimentOptions& o) {
  return o.kernel_times.empty() ? nullptr : make_cost_model(o.kernel_times);
}

}  // namespace dstack::app
