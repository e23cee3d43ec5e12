#pragma once
// The per-kernel cost model of the simulator: what one thread block of each kernel launch has to
// do. By default a roofline from the plan's FLOPs and bytes against the device's rates; a measured
// per-kernel profile replaces it (calibration). CPU only, no CUDA header.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include "kernels/launch.h"
#include "models/plan.h"
#include "runtime/sim/block_rate.h"
#include "runtime/sim/device_spec.h"

namespace dstack::sim {

// What a cost model may look at for one CUDA launch of a plan.
struct LaunchInfo {
  const models::Plan* plan = nullptr;
  int plan_index = 0;    // index into plan->kernels
  int launch_index = 0;  // index into plan->kernels[plan_index].launches
  double share = 1;      // the launch's share of the node's work (several launches split it by threads)
  int64_t blocks = 0;
  int warps = 0;         // per block
  int blocks_per_sm = 0; // occupancy on an empty SM of the device
  const models::KernelLaunch& node() const { return plan->kernels[plan_index]; }
  const kernels::LaunchGeometry& geometry() const { return node().launches[launch_index]; }
};

class CostModel {
 public:
  virtual ~CostModel() = default;
  // "roofline" or "calibrated from FILE (N kernels)": recorded in every result.
  virtual std::string name() const = 0;
  virtual BlockWork block_work(const LaunchInfo& launch, const DeviceSpec& device) const = 0;
};

// Tensor-core kernels are recognised by name ("gemm_tc<__half>", "conv2d_implicit_gemm_tc<...>").
bool is_tensor_core_kernel(const std::string& kernel);

// FLOPs and bytes split evenly over the blocks; the SM's fp32 rate, or its tensor-core rate for
// tensor-core kernels; the device's fixed block latency.
class RooflineCostModel final : public CostModel {
 public:
  std::string name() const override { return "roofline"; }
  BlockWork block_work(const LaunchInfo& launch, const DeviceSpec& device) const override;
};

// The time a launch takes alone on `sms` SMs of an idle device under `work`: full waves then the
// tail wave, each block at the SM load of its wave, capped by the device's DRAM bandwidth. The
// calibration scales block work with it; tests check the engines against it.
double standalone_launch_time(const BlockWork& work, int64_t blocks, int warps, int blocks_per_sm, int sms,
                              const DeviceSpec& device);

// Measured kernel times (seconds) on the whole GPU, by launch geometry or by plan position.
struct MeasuredKernelTimes {
  using GeometryKey = std::tuple<std::string, unsigned long long, unsigned long long>;  // kernel, grid, block
  using PlanKey = std::tuple<std::string, int64_t, int, int>;  // model, batch, plan index, launch index
  std::map<GeometryKey, double> by_geometry;
  std::map<PlanKey, double> by_plan;
  // A node's launches together (launch index -1), from a profile's kernel file: each launch takes
  // its share of the node's work (LaunchInfo::share) of the time.
  std::map<PlanKey, double> by_node;
  std::string source;  // where they came from, for the model's name
  std::size_t size() const { return by_geometry.size() + by_plan.size() + by_node.size(); }
};

// The columns of the kernel file `dstack profile` writes (runtime/analysis/profile.cc writes them,
// read_kernel_times_csv reads them).
inline constexpr const char* kProfileKernelColumns = "model,batch,sms,precision,index,kernel,time_us";

// Reads "kernel,grid,block,time_us" (grid and block as total counts or "XxYxZ"),
// "model,batch,index,launch,time_us", or the kernel file of a profile (`dstack profile`:
// "model,batch,sms,precision,index,kernel,time_us"), of which it keeps each (model, batch)'s rows on
// the most SMs profiled (the whole GPU: the calibration's reference). Throws std::invalid_argument
// naming the file and line, also for a profile holding several precisions.
MeasuredKernelTimes read_kernel_times_csv(const std::filesystem::path& file);

// A measured kernel's block work is the roofline's scaled so that the kernel alone on the whole GPU
// takes the measured time; kernels without a measurement keep the roofline. A profile's node
// measured at other batches of the same model stands in for an unmeasured batch: its time
// interpolated linearly between the nearest measured batches, proportional to the batch above the
// largest, and the smallest's below it (a profile at 1, 2, 4, ..., 64 calibrates every batch).
class CalibratedCostModel final : public CostModel {
 public:
  explicit CalibratedCostModel(MeasuredKernelTimes times);
  std::string name() const override;
  BlockWork block_work(const LaunchInfo& launch, const DeviceSpec& device) const override;

 private:
  std::optional<double> node_time(const std::string& model, int64_t batch, int index) const;

  MeasuredKernelTimes times_;
  // by_node again, by (model, node index): batch -> seconds.
  std::map<std::pair<std::string, int>, std::map<int64_t, double>> node_batches_;
  RooflineCostModel roofline_;
};

}  // namespace dstack::sim
