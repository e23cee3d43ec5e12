#include "runtime/sim/simulate.h"

#include <numeric>

#include "models/plan.h"
#include "runtime/backend/partition_layout.h"

namespace dstack::sim {

int resolve_partition_sms(const DeviceSpec& device, int requested) {
  return resolve_layout(PartitionLayout{{requested}}, device.granularity()).partitions.at(0).sms;
}

BatchSimulation simulate_plan(std::shared_ptr<const SimPlan> plan, const DeviceSpec& device, int sms, SimMode mode,
                              DispatchMode dispatch) {
  Engine engine(device, mode);
  std::vector<int> ids(sms);
  std::iota(ids.begin(), ids.end(), 0);
  const int pool = engine.add_pool(ids);
  const int run = engine.start_run(plan, pool, dispatch, 0.0, /*record_kernels=*/true);
  engine.run_until();
  BatchSimulation s;
  s.device = &device;
  s.plan = std::move(plan);
  s.sms = sms;
  s.mode = mode;
  s.dispatch = dispatch;
  s.timing = engine.take_result(run);
  s.latency_s = s.timing.end_s - s.timing.issue_s;
  s.events = engine.events();
  return s;
}

BatchSimulation simulate_batch(const models::Graph& graph, const std::string& model, int64_t batch,
                               kernels::Precision precision, const DeviceSpec& device, int sms, SimMode mode,
                               DispatchMode dispatch, const CostModel& cost) {
  models::Plan p = models::lower(graph, batch, precision);
  p.model = model;
  auto sp = std::make_shared<const SimPlan>(prepare_plan(p, device, cost));
  return simulate_plan(std::move(sp), device, sms, mode, dispatch);
}

nlohmann::json batch_simulation_json(const BatchSimulation& s, const std::string& commit) {
  const SimPlan& p = *s.plan;
  nlohmann::json kernels = nlohmann::json::array();
  for (const KernelTiming& kt : s.timing.kernels) {
    const SimKernel& k = p.kernels[kt.kernel];
    kernels.push_back({{"index", kt.kernel},
                       {"plan_index", k.plan_index},
                       {"kernel", k.kernel},
                       {"blocks", k.blocks},
                       {"threads", k.threads},
                       {"blocks_per_sm", k.occupancy.blocks_per_sm},
                       {"occupancy_limit", kernels::occupancy_limit_name(k.occupancy.limit)},
                       {"start_us", kt.start_s * 1e6},
                       {"time_us", (kt.end_s - kt.start_s) * 1e6},
                       {"waves", kt.waves},
                       {"sms_used", kt.sms_used},
                       {"bound", bound_name(kt.bound)}});
  }
  return {{"simulated", true},
          {"device", s.device->name},
          {"device_name", s.device->full_name},
          {"device_file", s.device->file},
          {"commit", commit},
          {"model", p.model},
          {"batch", p.batch},
          {"precision", kernels::precision_name(p.precision)},
          {"sms", s.sms},
          {"mode", sim_mode_name(s.mode)},
          {"dispatch", dispatch_mode_name(s.dispatch)},
          {"cost_model", p.cost_model},
          {"resources", p.resource_note},
          {"latency_ms", s.latency_s * 1e3},
          {"kernels", kernels}};
}

}  // namespace dstack::sim
