#include "runtime/sim/sim_backend.h"

#include <fmt/format.h>

#include <numeric>
#include <stdexcept>

#include "models/plan.h"

namespace dstack::sim {
namespace {

// The SM ids of each partition: consecutive split groups, as the CUDA backend's green contexts take
// them; the whole GPU is every SM.
std::vector<int> partition_sm_ids(const ResolvedLayout& layout, std::size_t i, const SmPartitionGranularity& g) {
  std::vector<int> ids(layout.partitions[i].sms);
  const int first = layout.whole_gpu ? 0 : layout.partitions[i].first_group * g.split_group_sms;
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

}  // namespace

SimBackend::SimBackend(DeviceSpec device, SimMode mode, std::shared_ptr<const CostModel> cost)
    : device_(std::move(device)),
      granularity_(device_.granularity()),
      cost_(cost ? std::move(cost) : std::make_shared<RooflineCostModel>()),
      engine_(device_, mode) {
  layout_ = resolve_layout(PartitionLayout{{device_.sm_count}}, granularity_);
  engine_.add_pool(partition_sm_ids(layout_, 0, granularity_));
  partition_ready_ = {0.0};
}

std::string SimBackend::describe() const {
  return fmt::format("simulated {} ({}), {} mode, {} cost model", device_.name, device_.file,
                     sim_mode_name(engine_.mode()), cost_->name());
}

void SimBackend::add_model(const std::string& name, std::shared_ptr<const models::Graph> graph) {
  if (!graph) throw std::invalid_argument("add_model('" + name + "'): no graph");
  models_[name] = std::move(graph);
}

std::shared_ptr<const SimPlan> SimBackend::plan(const std::string& model, int64_t batch, kernels::Precision precision) {
  const auto key = std::make_tuple(model, batch, static_cast<int>(precision));
  if (auto it = plans_.find(key); it != plans_.end()) return it->second;
  auto m = models_.find(model);
  if (m == models_.end()) {
    std::string known;
    for (const auto& [n, g] : models_) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("model '" + model + "' was not added to the simulator (added: " +
                                (known.empty() ? "none" : known) + ")");
  }
  models::Plan p = models::lower(*m->second, batch, precision);
  p.model = model;
  auto sp = std::make_shared<const SimPlan>(prepare_plan(p, device_, *cost_));
  plans_.emplace(key, sp);
  return sp;
}

ResolvedLayout SimBackend::set_layout(const PartitionLayout& layout) {
  if (!requests_.empty())
    throw std::logic_error(fmt::format("{} runs are in flight; wait for them before changing the partition layout",
                                       requests_.size()));
  ResolvedLayout next = resolve_layout(layout, granularity_);
  engine_.clear_pools();
  std::vector<double> ready;
  // Partitions that existed before are kept; each new one costs a green-context creation, one after
  // another on the host.
  double t = engine_.now();
  for (std::size_t i = 0; i < next.partitions.size(); ++i) {
    const ResolvedPartition& p = next.partitions[i];
    bool existed = false;
    for (const ResolvedPartition& q : layout_.partitions)
      existed |= q.sms == p.sms && q.first_group == p.first_group && next.whole_gpu == layout_.whole_gpu;
    if (!existed) t += device_.timing.partition_create_us * 1e-6;
    ready.push_back(existed ? engine_.now() : t);
    engine_.add_pool(partition_sm_ids(next, i, granularity_));
  }
  layout_ = std::move(next);
  partition_ready_ = std::move(ready);
  last_partition_.clear();  // partition indices changed meaning
  return layout_;
}

RunId SimBackend::submit(const RunRequest& r) {
  if (r.partition < 0 || r.partition >= static_cast<int>(layout_.partitions.size()))
    throw std::invalid_argument(fmt::format("partition {} does not exist; the layout has {} (0..{})", r.partition,
                                            layout_.partitions.size(), layout_.partitions.size() - 1));
  if (r.batch < 1) throw std::invalid_argument(fmt::format("batch must be at least 1 (got {})", r.batch));
  auto sp = plan(r.model, r.batch, r.precision);
  double issue = std::max(engine_.now(), partition_ready_[r.partition]);
  auto last = last_partition_.find(r.model);
  if (last != last_partition_.end() && last->second != r.partition) issue += device_.timing.partition_switch_us * 1e-6;
  last_partition_[r.model] = r.partition;
  const int id = engine_.start_run(std::move(sp), r.partition, r.dispatch, issue, /*record_kernels=*/false);
  requests_[id] = Pending{r, engine_.now()};
  return static_cast<RunId>(id);
}

std::optional<RunCompletion> SimBackend::run_until(double until_s) {
  const auto id = engine_.run_until(until_s);
  if (!id) return std::nullopt;
  const RunTiming t = engine_.take_result(*id);
  auto it = requests_.find(*id);
  RunCompletion c;
  c.id = static_cast<RunId>(*id);
  c.request = it->second.request;
  c.submitted_s = it->second.submitted;
  c.started_s = t.start_s;
  c.finished_s = t.end_s;
  c.partition_sms = layout_.partitions[c.request.partition].sms;
  requests_.erase(it);
  return c;
}

}  // namespace dstack::sim
