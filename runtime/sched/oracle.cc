#include "runtime/sched/oracle.h"

#include <fmt/format.h>

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
