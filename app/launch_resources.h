#pragma once
// Each CUDA launch's registers, shared memory and occupancy on a device architecture, from the
// ptxas table (kernels/kernel_resources.h) and the SM limits (kernels/occupancy.h), rendered for
// `dstack plan` and `dstack kernels`.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "kernels/kernel_resources.h"
#include "kernels/launch.h"
#include "kernels/occupancy.h"

namespace dstack::app {

// A device architecture and the compiled code it runs (kernels_resources_arch_for_device).
struct ResourceTarget {
  int device_arch = 90;
  std::optional<int> code_arch;  // nullopt: no table, or no code this device runs
};

// Parses --arch ("90", "sm_90"); throws std::invalid_argument for an architecture dstack has no
// SM limits for.
ResourceTarget resource_target(const std::string& arch);

// One line saying where the numbers come from, or why there are none.
std::string resource_note(const ResourceTarget& t);

// The launch's resources and occupancy as JSON, or null when the table has no entry for it.
nlohmann::json launch_resources_json(const kernels::LaunchGeometry& g, const ResourceTarget& t);

// Column header and cell for text tables: registers, static shared bytes, blocks per SM, warp
// occupancy and the binding limit ("-" where unknown).
std::string launch_resources_header();
std::string launch_resources_cell(const kernels::LaunchGeometry& g, const ResourceTarget& t);

}  // namespace dstack::app
