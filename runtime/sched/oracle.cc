#include "runtime/sched/oracle.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "models/plan.h"

namespace dstack::sched {

analysis::BatchChoice Oracle::choose_batch(int model, analysis::BatchProblem problem) const {
  if (problem.sms.empty()) problem.sms = partition_sizes();
  return analysis::choose_batch(problem, [this, model](int64_t b, int s) { return latency_s(model, b, s); });
}

ParallelismOracle::ParallelismOracle(const sim::DeviceSpec& device,
                                     std::vector<std::shared_ptr<const models::Graph>> graphs,
                                     std::vector<std::string> names, kernels::Precision precision,
                                     std::shared_ptr<const sim::CostModel> cost)
    : device_(device),
      graphs_(std::move(graphs)),
      names_(std::move(names)),
      precision_(precision),
      cost_(cost ? std::move(cost) : std::make_shared<sim::RooflineCostModel>()),
      sizes_(device.granularity().partition_sizes) {
  if (graphs_.size() != names_.size()) throw std::invalid_argument("oracle: one name per graph");
}

ParallelismOracle::Entry& ParallelismOracle::entry(int model, int64_t batch) const {
  if (model < 0 || model >= static_cast<int>(graphs_.size()))
    throw std::out_of_range(fmt::format("oracle: no model {}", model));
  Entry& e = cache_[{model, batch}];
  if (!e.model) {
    models::Plan plan = models::lower(*graphs_[static_cast<std::size_t>(model)], batch, precision_);
    plan.model = names_[static_cast<std::size_t>(model)];
    e.plan = std::make_unique<sim::SimPlan>(sim::prepare_plan(plan, device_, *cost_));
    e.model = std::make_unique<analysis::ParallelismModel>(*e.plan, device_);
  }
  return e;
}

double ParallelismOracle::latency_s(int model, int64_t batch, int sms) const {
  // The batch optimizer asks every (batch, allowed size) of a model at every re-plan: a flat table
  // answers those without two map lookups each.
  const auto size = std::lower_bound(sizes_.begin(), sizes_.end(), sms);
  if (size != sizes_.end() && *size == sms && batch >= 1 && batch <= kTableBatches && model >= 0 &&
      model < static_cast<int>(graphs_.size())) {
    const std::size_t n = sizes_.size();
    if (table_.empty()) table_.assign(graphs_.size() * kTableBatches * n, std::numeric_limits<double>::quiet_NaN());
    double& slot = table_[(static_cast<std::size_t>(model) * kTableBatches + static_cast<std::size_t>(batch - 1)) * n +
                          static_cast<std::size_t>(size - sizes_.begin())];
    if (std::isnan(slot)) slot = entry(model, batch).model->latency_s(sms);
    return slot;
  }
  Entry& e = entry(model, batch);
  auto it = e.latency.find(sms);
  if (it == e.latency.end()) it = e.latency.emplace(sms, e.model->latency_s(sms)).first;
  return it->second;
}

int ParallelismOracle::knee_sms(int model, int64_t batch) const { return entry(model, batch).model->knee_sms(); }

double ParallelismOracle::usable_parallelism(int model, int64_t batch) const {
  return entry(model, batch).model->usable_parallelism();
}

}  // namespace dstack::sched
