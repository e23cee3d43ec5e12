#pragma once
// The simulated GPU behind the Backend interface (runtime/backend/backend.h): what a scheduler or
// the serving loop drives on a machine without a GPU. Plans are lowered and prepared once per
// (model, batch, precision) and cached. Deterministic: no wall clock, ordered containers only.
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "runtime/backend/backend.h"
#include "runtime/sim/cost_model.h"
#include "runtime/sim/device_spec.h"
#include "runtime/sim/engine.h"

namespace dstack::sim {

class SimBackend final : public Backend {
 public:
  // The cost model defaults to the roofline. Starts with one partition: the whole GPU.
  SimBackend(DeviceSpec device, SimMode mode, std::shared_ptr<const CostModel> cost = nullptr);

  std::string describe() const override;
  bool simulated() const override { return true; }
  const SmPartitionGranularity& granularity() const override { return granularity_; }
  void add_model(const std::string& name, std::shared_ptr<const models::Graph> graph) override;
  ResolvedLayout set_layout(const PartitionLayout& layout) override;
  const ResolvedLayout& layout() const override { return layout_; }
  RunId submit(const RunRequest& request) override;
  double now() const override { return engine_.now(); }
  std::optional<RunCompletion> run_until(double until_s) override;
  int in_flight() const override { return static_cast<int>(requests_.size()); }
  std::optional<double> occupied_sm_seconds() const override { return engine_.occupied_sm_seconds(); }

  const DeviceSpec& device() const { return device_; }
  SimMode mode() const { return engine_.mode(); }
  uint64_t events() const { return engine_.events(); }
  // Replay of cached isolated run timelines (Engine::set_replay; on by default). Only while idle.
  void set_replay(bool on) { engine_.set_replay(on); }
  uint64_t replayed_runs() const { return engine_.replayed_runs(); }
  uint64_t materialized_runs() const { return engine_.materialized_runs(); }
  // The prepared plan a request runs (lowered and cached on first use).
  std::shared_ptr<const SimPlan> plan(const std::string& model, int64_t batch, kernels::Precision precision);

 private:
  struct Pending {
    RunRequest request;
    double submitted = 0;
  };
  DeviceSpec device_;
  SmPartitionGranularity granularity_;
  std::shared_ptr<const CostModel> cost_;
  Engine engine_;
  ResolvedLayout layout_;
  std::vector<double> partition_ready_;  // when each partition of the layout exists
  std::map<std::string, std::shared_ptr<const models::Graph>> models_;
  std::map<std::tuple<std::string, int64_t, int>, std::shared_ptr<const SimPlan>> plans_;
  std::map<std::string, int> last_partition_;  // where each model ran last (switch cost)
  std::map<int, Pending> requests_;            // engine run id -> request
};

}  // namespace dstack::sim
