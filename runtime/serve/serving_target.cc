#include "runtime/serve/serving_target.h"

#include <fmt/format.h>

#include "runtime/backend/paced_backend.h"
#include "runtime/sim/sim_backend.h"

namespace dstack::serve {

ServingTarget sim_target(const ExperimentConfig& config, const SimTargetOptions& o) {
  ServingTarget t;
  t.device = sim::load_device(config.device);
  t.cost = o.cost ? o.cost : std::make_shared<const sim::RooflineCostModel>();
  const sim::DeviceSpec device = t.device;
  const auto cost = t.cost;
  const sim::SimMode mode = o.mode;
  const bool realtime = o.realtime;
  t.make_backend = [device, cost, mode, realtime]() -> std::unique_ptr<Backend> {
    auto sim = std::make_unique<sim::SimBackend>(device, mode, cost);
    if (!realtime) return sim;
    return std::make_unique<PacedBackend>(std::move(sim));
  };
  t.label = realtime ? "simulated in real time" : "simulated";
  t.where = "on " + device.name;
  t.details = fmt::format(", {} mode{}{}", sim::sim_mode_name(mode), realtime ? ", paced to the wall clock" : "",
                          t.cost->name() == "roofline" ? "" : ", cost model " + t.cost->name());
  t.provenance = {{"simulated", true},
                  {"backend", realtime ? "sim-realtime" : "sim"},
                  {"device", device.name},
                  {"device_file", device.file},
                  {"sim_mode", sim::sim_mode_name(mode)},
                  {"cost_model", t.cost->name()},
                  {"clock", realtime ? "the wall clock (the simulator decides when runs finish; not deterministic)"
                                     : "simulated (deterministic)"}};
  return t;
}

}  // namespace dstack::serve
