#pragma once
// Where an experiment's runs execute, chosen once for `dstack run` and the experiments: the
// simulator, the simulator paced to the wall clock (--realtime), or a GPU (gpu_target.h). A target
// gives the device description the policies plan with, a fresh backend per policy, and the words and
// provenance its results carry: "simulated ..." or "measured on <GPU>, driver ...", never one for
// the other. CPU only.
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/serve/experiment_config.h"
#include "runtime/sim/cost_model.h"
#include "runtime/sim/device_spec.h"
#include "runtime/sim/engine.h"

namespace dstack::serve {

struct ServingTarget {
  bool measured = false;           // a real GPU ran it
  sim::DeviceSpec device;          // what the policies' oracle plans with (SM count, partitions, rates)
  std::shared_ptr<const sim::CostModel> cost;  // the oracle's (and the simulator's) kernel costs
  std::function<std::unique_ptr<Backend>()> make_backend;
  // The table's header reads "<label>: <experiment> <where> (models, duration, ...)<details>; commit":
  // label "simulated" | "simulated in real time" | "measured on NVIDIA H200 (132 SMs), driver 13.0",
  // where "on h100_sxm" (the planning device on a GPU), details ", fast mode", ...
  std::string label;
  std::string where;
  std::string details;
  nlohmann::json provenance;       // backend, device, ... merged into every output's provenance
  std::vector<std::string> notes;  // what the user should read first (values adjusted to the GPU, ...)
};

struct SimTargetOptions {
  sim::SimMode mode = sim::SimMode::fast;
  std::shared_ptr<const sim::CostModel> cost;  // null: the roofline
  bool realtime = false;                       // pace the simulator to the wall clock
};

// The config's device, simulated. Throws std::invalid_argument for an unknown device.
ServingTarget sim_target(const ExperimentConfig& config, const SimTargetOptions& options);

}  // namespace dstack::serve
