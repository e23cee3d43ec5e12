// `dstack kernels`: the kernel resource table (registers, shared memory, spills per architecture,
// read from ptxas at build time) and each kernel's occupancy at the block sizes the zoo launches it with.
#include <fmt/format.h>

#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "app/commands.h"
#include "app/launch_resources.h"
#include "kernels/kernel_resources.h"
#include "kernels/occupancy.h"
#include "kernels/precision.h"
#include "models/plan.h"
#include "models/zoo.h"

namespace dstack::app {
namespace {

struct KernelsArgs {
  std::string arch;  // empty: every architecture in the table, each on its own SM limits
  bool json = false;
};

// A kernel's launch geometry depends on the shape, so its block sizes are taken from the launches
// the zoo's plans make at batch 1 at every precision: kernel -> one geometry per distinct block size
// and shared bytes.
std::map<std::string, std::vector<kernels::LaunchGeometry>> zoo_launch_shapes() {
  std::map<std::string, std::vector<kernels::LaunchGeometry>> out;
  std::set<std::tuple<std::string, unsigned long long, std::size_t>> seen;
  for (const models::ZooEntry& e : models::zoo()) {
    const models::Model m = e.build(models::BuildOptions{.seed = 1, .weights = false});
    for (kernels::Precision p : {kernels::Precision::F32, kernels::Precision::F16, kernels::Precision::BF16})
      for (const models::KernelLaunch& k : models::lower(m.graph, 1, p).kernels)
        for (const kernels::LaunchGeometry& g : k.launches)
          if (seen.emplace(g.kernel, g.block.count(), g.shared_bytes).second) out[g.kernel].push_back(g);
  }
  return out;
}

void run_kernels(const KernelsArgs& args) {
  std::optional<ResourceTarget> target;
  if (!args.arch.empty()) target = resource_target(args.arch);  // validates the arch first
  if (!kernels::kernel_resources_available())
    throw std::runtime_error(std::string("no kernel resource table: ") +
                             std::string(kernels::kernel_resources_unavailable_reason()) +
                             " (configure with the CUDA toolkit on PATH to build one)");
  if (target && !target->code_arch) throw std::runtime_error(resource_note(*target));

  const auto shapes = zoo_launch_shapes();
  nlohmann::json all = nlohmann::json::array();
  if (!args.json) {
    if (target) fmt::print("{}\n", resource_note(*target));
    fmt::print("{:<40} {:<6} {:>4} {:>6} {:>5} {:>5} {:>6} {:>6} {:>4}  {}\n", "kernel", "arch", "regs", "smem", "cmem",
               "stack", "spillS", "spillL", "bar", "blocks/SM at the zoo's block sizes (limit)");
  }
  for (const kernels::KernelResources& r : kernels::kernel_resource_table()) {
    if (target && r.arch != *target->code_arch) continue;
    const kernels::SmLimits& sm = kernels::sm_limits(target ? target->device_arch : r.arch);
    nlohmann::json launches = nlohmann::json::array();
    std::string cell;
    const auto it = shapes.find(std::string(r.kernel));
    if (it != shapes.end())
      for (const kernels::LaunchGeometry& g : it->second) {
        const kernels::Occupancy o = kernels::occupancy(g, r, sm);
        launches.push_back({{"threads", g.block.count()}, {"shared_bytes", g.shared_bytes},
                            {"blocks_per_sm", o.blocks_per_sm}, {"warps_per_sm", o.warps_per_sm},
                            {"occupancy", o.fraction}, {"limit", kernels::occupancy_limit_name(o.limit)}});
        cell += fmt::format("{}{} @{} ({})", cell.empty() ? "" : ", ", o.blocks_per_sm, g.block.count(),
                            kernels::occupancy_limit_name(o.limit));
      }
    if (args.json) {
      all.push_back({{"kernel", r.kernel}, {"mangled", r.mangled}, {"arch", r.arch}, {"sm_limits", sm.arch},
                     {"registers", r.registers}, {"shared_bytes", r.shared_bytes}, {"constant_bytes", r.constant_bytes},
                     {"stack_frame_bytes", r.stack_frame_bytes}, {"spill_store_bytes", r.spill_store_bytes},
                     {"spill_load_bytes", r.spill_load_bytes}, {"barriers", r.barriers}, {"zoo_launches", launches}});
    } else {
      fmt::print("{:<40} sm_{:<3} {:>4} {:>6} {:>5} {:>5} {:>6} {:>6} {:>4}  {}\n", r.kernel, r.arch, r.registers,
                 r.shared_bytes, r.constant_bytes, r.stack_frame_bytes, r.spill_store_bytes, r.spill_load_bytes,
                 r.barriers, cell.empty() ? "- (not launched by the zoo)" : cell);
    }
  }
  if (args.json) std::cout << all.dump(2) << "\n";
}

}  // namespace

void register_kernels(CLI::App& app) {
  auto args = std::make_shared<KernelsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "kernels", "List each CUDA kernel's registers, shared memory and spills (from ptxas at build time) and its "
                 "occupancy at the zoo's block sizes");
  cmd->add_option("--arch", args->arch,
                  "Device architecture (80, 86, 89, 90 or sm_90): the code it runs, on its SM limits; default: "
                  "every compiled architecture on its own limits");
  cmd->add_flag("--json", args->json, "Print a JSON array, one object per kernel and architecture");
  cmd->callback([args] { run_kernels(*args); });
}

}  // namespace dstack::app
