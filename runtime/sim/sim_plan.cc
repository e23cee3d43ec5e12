#include "runtime/sim/sim_plan.h"

#include <fmt/format.h>

#include <climits>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "kernels/kernel_resources.h"

namespace dstack::sim {
namespace {

constexpr int kAssumedRegisters = 32;  // per thread, when the build has no ptxas numbers

double use_of(int blocks_allowed) { return blocks_allowed == INT_MAX || blocks_allowed <= 0 ? 0.0 : 1.0 / blocks_allowed; }

}  // namespace

ResourceSource resource_source(int device_arch) {
  ResourceSource s;
  if (!kernels::kernel_resources_available()) {
    s.approximate = true;
    s.note = fmt::format("registers assumed {} per thread (approximate): {}", kAssumedRegisters,
                         kernels::kernel_resources_unavailable_reason());
    return s;
  }
  if (auto exact = kernels::kernel_resources_arch_for_device(device_arch)) {
    s.code_arch = *exact;
    s.note = fmt::format("registers and shared memory from ptxas for sm_{}", *exact);
    return s;
  }
  // No code this GPU runs was compiled (V100/T4, or an sm_80 GPU in an sm_90-only build): the
  // nearest compiled architecture, the lower on a tie.
  int best = 0;
  for (int a : kernels::kernel_resource_archs())
    if (best == 0 || std::abs(a - device_arch) < std::abs(best - device_arch)) best = a;
  s.code_arch = best;
  s.approximate = true;
  s.note = fmt::format("registers from sm_{} code (approximate: this build has no sm_{} code)", best, device_arch);
  return s;
}


int blocks_that_fit(const SimKernel& k, const std::array<double, kSmResources>& used) {
  int fit = INT_MAX;
  for (int r = 0; r < kSmResources; ++r) {
    if (k.use[r] <= 0) continue;
    // The tolerance absorbs rounding in sums of fractions such as 1/3 + 1/3 + 1/3.
    const int n = static_cast<int>(std::floor((1.0 - used[r]) / k.use[r] + 1e-9));
    fit = std::min(fit, std::max(n, 0));
  }
  return fit;
}

SimPlan prepare_plan(const models::Plan& plan, const DeviceSpec& device, const CostModel& cost) {
  const ResourceSource source = resource_source(device.arch);
  const kernels::SmLimits limits = device.sm_limits();
  SimPlan sp;
  sp.model = plan.model;
  sp.batch = plan.batch;
  sp.precision = plan.precision;
  sp.cost_model = cost.name();
  sp.total_flops = static_cast<double>(plan.total_flops());
  int assumed = 0;
  for (std::size_t i = 0; i < plan.kernels.size(); ++i) {
    const auto& node = plan.kernels[i];
    double total_threads = 0;
    for (const auto& g : node.launches) total_threads += static_cast<double>(g.grid.count() * g.block.count());
    for (std::size_t j = 0; j < node.launches.size(); ++j) {
      const kernels::LaunchGeometry& g = node.launches[j];
      if (g.grid.count() == 0) continue;
      SimKernel k;
      k.plan_index = static_cast<int>(i);
      k.launch_index = static_cast<int>(j);
      k.kernel = g.kernel;
      k.blocks = static_cast<int64_t>(g.grid.count());
      k.threads = static_cast<int>(g.block.count());
      std::optional<kernels::KernelResources> res;
      if (source.code_arch) res = kernels::find_kernel_resources(g.kernel, *source.code_arch);
      if (!res) {
        k.assumed_resources = true;
        ++assumed;
        res = kernels::KernelResources{};
        res->kernel = g.kernel;
        res->registers = kAssumedRegisters;
        res->barriers = 1;
      }
      // Approximate records come from another architecture's code; occupancy() wants records for
      // the SM's own, so relabel them (the approximation is stated in the plan's resource note).
      res->arch = device.arch;
      try {
        k.occupancy = kernels::occupancy(g, *res, limits);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(fmt::format("{} at batch {}, launch {} ('{}'): cannot run on {}: {}", plan.model,
                                                plan.batch, i, node.name, device.name, e.what()));
      }
      k.warps = k.occupancy.warps_per_block;
      k.use = {use_of(k.occupancy.blocks_by_threads), use_of(k.occupancy.blocks_by_blocks),
               use_of(k.occupancy.blocks_by_registers), use_of(k.occupancy.blocks_by_shared_memory),
               use_of(k.occupancy.blocks_by_barriers)};
      LaunchInfo info;
      info.plan = &plan;
      info.plan_index = k.plan_index;
      info.launch_index = k.launch_index;
      info.share = total_threads > 0 ? static_cast<double>(g.grid.count() * g.block.count()) / total_threads : 1.0;
      info.blocks = k.blocks;
      info.warps = k.warps;
      info.blocks_per_sm = k.occupancy.blocks_per_sm;
      k.work = cost.block_work(info, device);
      sp.kernels.push_back(std::move(k));
    }
  }
  sp.resource_note = source.note;
  if (assumed > 0 && source.code_arch)
    sp.resource_note += fmt::format("; {} launches of kernels missing from the table assume {} registers per thread",
                                    assumed, kAssumedRegisters);
  return sp;
}

}  // namespace dstack::sim
