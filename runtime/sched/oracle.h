#pragma once
// What policies may ask about models without running them: predicted latency T(b, S), the knee, the
// usable parallelism and the partition sizes the device allows. Backed by the parallelism model
// (runtime/analysis) over the simulator's device description, the same on both backends. CPU only.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/precision.h"
#include "models/graph.h"
#include "runtime/analysis/batch_optimizer.h"
#include "runtime/analysis/parallelism_model.h"
#include "runtime/sim/cost_model.h"
#include "runtime/sim/device_spec.h"

namespace dstack::sched {

class Oracle {
 public:
  virtual ~Oracle() = default;
  virtual int sm_count() const = 0;
  // Allowed partition sizes, smallest first; the last is the whole GPU.
  virtual const std::vector<int>& partition_sizes() const = 0;
  virtual double latency_s(int model, int64_t batch, int sms) const = 0;
  virtual int knee_sms(int model, int64_t batch) const = 0;
  virtual double usable_parallelism(int model, int64_t batch) const = 0;
  // The batch optimizer on this oracle's latency (analysis/batch_optimizer.h), over `sms` (all
  // allowed sizes when empty).
  analysis::BatchChoice choose_batch(int model, analysis::BatchProblem problem) const;
};

// The parallelism model of each model's plan at each batch, prepared on first use and cached.
class ParallelismOracle final : public Oracle {
 public:
  ParallelismOracle(const sim::DeviceSpec& device, std::vector<std::shared_ptr<const models::Graph>> graphs,
                    std::vector<std::string> names, kernels::Precision precision,
                    std::shared_ptr<const sim::CostModel> cost = nullptr);
  int sm_count() const override { return device_.sm_count; }
  const std::vector<int>& partition_sizes() const override { return sizes_; }
  double latency_s(int model, int64_t batch, int sms) const override;
  int knee_sms(int model, int64_t batch) const override;
  double usable_parallelism(int model, int64_t batch) const override;

 private:
  struct Entry {
    std::unique_ptr<sim::SimPlan> plan;
    std::unique_ptr<analysis::ParallelismModel> model;
    std::map<int, double> latency;  // by SMs
  };
  Entry& entry(int model, int64_t batch) const;

  const sim::DeviceSpec& device_;
  std::vector<std::shared_ptr<const models::Graph>> graphs_;
  std::vector<std::string> names_;
  kernels::Precision precision_;
  std::shared_ptr<const sim::CostModel> cost_;
  std::vector<int> sizes_;
  mutable std::map<std::pair<int, int64_t>, Entry> cache_;
  // latency_s for batches 1..kTableBatches at the allowed sizes, by (model, batch, size index); NaN
  // until asked.
  static constexpr int64_t kTableBatches = 128;
  mutable std::vector<double> table_;
};

}  // namespace dstack::sched
