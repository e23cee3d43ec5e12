#include "app/launch_resources.h"

#include <fmt/format.h>

namespace dstack::app {
namespace {

struct Resolved {
  kernels::KernelResources res;
  kernels::Occupancy occ;
};

std::optional<Resolved> resolve(const kernels::LaunchGeometry& g, const ResourceTarget& t) {
  if (!t.code_arch) return std::nullopt;
  const auto res = kernels::find_kernel_resources(g.kernel, *t.code_arch);
  if (!res) return std::nullopt;
  return Resolved{*res, kernels::occupancy(g, *res, kernels::sm_limits(t.device_arch))};
}

}  // namespace

ResourceTarget resource_target(const std::string& arch) {
  ResourceTarget t;
  t.device_arch = kernels::parse_sm_arch(arch);
  t.code_arch = kernels::kernel_resources_arch_for_device(t.device_arch);
  return t;
}

std::string resource_note(const ResourceTarget& t) {
  if (!kernels::kernel_resources_available())
    return fmt::format("no registers or occupancy: {}", kernels::kernel_resources_unavailable_reason());
  std::string compiled;
  for (int a : kernels::kernel_resource_archs()) compiled += fmt::format("{}sm_{}", compiled.empty() ? "" : ", ", a);
  if (!t.code_arch)
    return fmt::format("no registers or occupancy: this build has no code an sm_{} GPU runs (compiled for {})",
                       t.device_arch, compiled);
  return fmt::format("resources on sm_{} ({} SM limits), registers and static shared memory from ptxas for sm_{}",
                     t.device_arch, kernels::sm_limits(t.device_arch).example_gpu, *t.code_arch);
}

nlohmann::json launch_resources_json(const kernels::LaunchGeometry& g, const ResourceTarget& t) {
  const auto r = resolve(g, t);
  if (!r) return nullptr;
  return {{"arch", t.device_arch},
          {"code_arch", r->res.arch},
          {"registers", r->res.registers},
          {"static_shared_bytes", r->res.shared_bytes},
          {"spill_store_bytes", r->res.spill_store_bytes},
          {"spill_load_bytes", r->res.spill_load_bytes},
          {"blocks_per_sm", r->occ.blocks_per_sm},
          {"warps_per_sm", r->occ.warps_per_sm},
          {"occupancy", r->occ.fraction},
          {"limit", kernels::occupancy_limit_name(r->occ.limit)}};
}

std::string launch_resources_header() {
  return fmt::format("{:>4} {:>6} {:>6} {:>4} {:<13}", "regs", "smem", "blk/SM", "occ", "limit");
}

std::string launch_resources_cell(const kernels::LaunchGeometry& g, const ResourceTarget& t) {
  const auto r = resolve(g, t);
  if (!r) return fmt::format("{:>4} {:>6} {:>6} {:>4} {:<13}", "-", "-", "-", "-", "-");
  return fmt::format("{:>4} {:>6} {:>6} {:>3.0f}% {:<13}", r->res.registers, r->res.shared_bytes, r->occ.blocks_per_sm,
                     100.0 * r->occ.fraction, kernels::occupancy_limit_name(r->occ.limit));
}

}  // namespace dstack::app
