#pragma once
// One batch of one model on a partition of the simulated GPU, with its per-kernel breakdown: what
// `dstack sim run` prints and what profiles are made of. CPU only.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "models/graph.h"
#include "runtime/backend/backend.h"
#include "runtime/sim/cost_model.h"
#include "runtime/sim/device_spec.h"
#include "runtime/sim/engine.h"
#include "runtime/sim/sim_plan.h"

namespace dstack::sim {

struct BatchSimulation {
  const DeviceSpec* device = nullptr;
  std::shared_ptr<const SimPlan> plan;
  int sms = 0;
  SimMode mode = SimMode::fast;
  DispatchMode dispatch = DispatchMode::graph;
  RunTiming timing;
  double latency_s = 0;  // first launch issued to last kernel done
  uint64_t events = 0;
};

// The partition a request of `requested` SMs gets on the device (rounded up to whole split groups;
// the whole GPU for sm_count). Throws std::invalid_argument naming the allowed sizes.
int resolve_partition_sms(const DeviceSpec& device, int requested);

// Lowers `graph` at (batch, precision) and runs it alone on SMs 0..sms-1. `model` names it.
BatchSimulation simulate_batch(const models::Graph& graph, const std::string& model, int64_t batch,
                               kernels::Precision precision, const DeviceSpec& device, int sms, SimMode mode,
                               DispatchMode dispatch, const CostModel& cost);

// The same with an already prepared plan.
BatchSimulation simulate_plan(std::shared_ptr<const SimPlan> plan, const DeviceSpec& device, int sms, SimMode mode,
                              DispatchMode dispatch);

// Everything a result needs to be reproduced: "simulated": true, the device description's name and
// file, the commit, the mode, the cost model, the latency and every kernel.
nlohmann::json batch_simulation_json(const BatchSimulation& sim, const std::string& commit);

}  // namespace dstack::sim
