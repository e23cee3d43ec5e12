#pragma once
// A plan made ready for the simulator: every CUDA launch with its blocks, its real registers and
// shared memory (kernels/kernel_resources.h) for the device's architecture, its occupancy against the
// device file's SM limits, and its per-block work from the cost model. Computed once per (model,
// batch, precision, device) and reused by every run. CPU only.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/occupancy.h"
#include "models/plan.h"
#include "runtime/sim/block_rate.h"
#include "runtime/sim/cost_model.h"
#include "runtime/sim/device_spec.h"

namespace dstack::sim {

// Where a device's kernel registers come from.
struct ResourceSource {
  std::optional<int> code_arch;  // the compiled code whose ptxas numbers are used; nullopt: none
  bool approximate = false;      // not the device's own code (or no table at all)
  std::string note;              // e.g. "registers from sm_80 code (approximate)"
};
// The device's own compiled code when the build has it; else the nearest compiled architecture
// (approximate); else an assumed 32 registers per thread (a build without CUDA has no table).
ResourceSource resource_source(int device_arch);

// Fixed resource types of an SM a resident block takes a share of.
enum SmResource { kThreads = 0, kBlocks, kRegisters, kSharedMemory, kBarriers, kSmResources };

struct SimKernel {
  int plan_index = 0;
  int launch_index = 0;
  std::string kernel;   // LaunchGeometry::kernel
  int64_t blocks = 0;
  int threads = 0;      // per block
  int warps = 0;        // per block
  kernels::Occupancy occupancy;  // alone on an empty SM
  // The fraction of each SM resource one block takes (1 / blocks the resource alone allows): blocks
  // of different kernels fit on one SM while the sums stay <= 1, as the hardware's per-resource
  // accounting does.
  std::array<double, kSmResources> use{};
  bool assumed_resources = false;  // no ptxas record for this kernel
  BlockWork work;
};

struct SimPlan {
  std::string model;
  int64_t batch = 1;
  kernels::Precision precision = kernels::Precision::F32;
  std::vector<SimKernel> kernels;  // in stream order, one per CUDA launch
  std::string resource_note;       // where registers came from
  std::string cost_model;          // CostModel::name()
  double total_flops = 0;
};

// Throws std::invalid_argument naming the kernel when a block cannot run on the device at all.
SimPlan prepare_plan(const models::Plan& plan, const DeviceSpec& device, const CostModel& cost);

// Blocks of `k` that still fit on an SM whose resources are `used` (fractions, as SimKernel::use).
int blocks_that_fit(const SimKernel& k, const std::array<double, kSmResources>& used);

}  // namespace dstack::sim
