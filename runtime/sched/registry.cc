#include "runtime/sched/registry.h"

#include <stdexcept>

namespace dstack::sched {

// One factory per policy file.
std::unique_ptr<Policy> make_dstack_policy();
std::unique_ptr<Policy> make_temporal_policy();
std::unique_ptr<Policy> make_triton_policy();
std::unique_ptr<Policy> make_clipper_policy();
std::unique_ptr<Policy> make_nexus_policy();
std::unique_ptr<Policy> make_gslice_policy();
std::unique_ptr<Policy> make_mps_policy();
std::unique_ptr<Policy> make_ideal_policy();

const std::vector<PolicyEntry>& policies() {
  static const std::vector<PolicyEntry> all = {
      {"dstack", "D-STACK: optimizer batches near the knee, spatial partitions or a spatio-temporal cycle",
       make_dstack_policy},
      {"temporal", "one model at a time on the whole GPU, round-robin, optimizer batch for a cycle of min SLO / 2",
       make_temporal_policy},
      {"triton", "Triton's dynamic batcher per model (max batch, max queue delay), concurrent over the whole GPU",
       make_triton_policy},
      {"clipper", "Clipper's AIMD batch size per model (+1 / x0.9 on an SLO miss), concurrent over the whole GPU",
       make_clipper_policy},
      {"nexus", "Nexus's squishy bin packing on one GPU: a duty cycle, batches fit to it, time-shared",
       make_nexus_policy},
      {"gslice", "GSLICE: static knee partitions by its share rule, adaptive batching, no time sharing",
       make_gslice_policy},
      {"mps", "all models concurrent over the whole GPU, fixed batch, no limits", make_mps_policy},
      {"ideal", "ideal bound: per-kernel dispatch, kernels of all models packed on the whole GPU",
       make_ideal_policy},
  };
  return all;
}

std::vector<std::string> policy_names() {
  std::vector<std::string> names;
  for (const auto& p : policies()) names.push_back(p.name);
  return names;
}

std::unique_ptr<Policy> make_policy(const std::string& name) {
  for (const auto& p : policies())
    if (p.name == name) return p.make();
  std::string valid;
  for (const auto& n : policy_names()) valid += (valid.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown policy '" + name + "'; choose " + valid);
}

void check_policy_options(const std::string& name, const nlohmann::json& options) {
  make_policy(name)->check_options(options);
}

}  // namespace dstack::sched
