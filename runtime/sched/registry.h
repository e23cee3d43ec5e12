#pragma once
// Every scheduling policy by name. A new policy is one file defining its factory plus one line in
// registry.cc; the policy test suite (test/sched) runs every registered policy through the same
// invariants, so it is tested by being listed.
#include <memory>
#include <string>
#include <vector>

#include "runtime/sched/policy.h"

namespace dstack::sched {

struct PolicyEntry {
  std::string name;
  std::string summary;  // one line for `dstack run --help` and the README
  std::unique_ptr<Policy> (*make)();
};

const std::vector<PolicyEntry>& policies();
std::vector<std::string> policy_names();
// Throws std::invalid_argument naming the registered policies for an unknown name.
std::unique_ptr<Policy> make_policy(const std::string& name);
// The policy's check_options: throws std::invalid_argument for an unknown policy or bad options.
void check_policy_options(const std::string& name, const nlohmann::json& options);

}  // namespace dstack::sched
