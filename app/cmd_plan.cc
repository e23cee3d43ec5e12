// `dstack plan`: the kernel launches of a model at a batch size and storage precision.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/launch_resources.h"
#include "app/model_source.h"
#include "kernels/precision.h"
#include "models/plan.h"

namespace dstack::app {
namespace {

struct PlanArgs {
  std::string model;
  int64_t batch = 1;
  std::string precision = "fp32";
  std::string arch = "90";  // device architecture for registers and occupancy
  uint64_t seed = 1;
  bool json = false;
};

nlohmann::json plan_json(const models::Plan& p, const ResourceTarget& t) {
  nlohmann::json ks = nlohmann::json::array();
  for (const auto& k : p.kernels) {
    nlohmann::json launches = nlohmann::json::array();
    for (const auto& g : k.launches)
      launches.push_back({{"kernel", g.kernel}, {"grid", {g.grid.x, g.grid.y, g.grid.z}},
                          {"block", {g.block.x, g.block.y, g.block.z}}, {"shared_bytes", g.shared_bytes},
                          {"resources", launch_resources_json(g, t)}});
    ks.push_back({{"name", k.name}, {"op", models::op_name(k.op)}, {"detail", k.detail}, {"inputs", k.input_shapes},
                  {"output", k.output_shape}, {"flops", k.flops}, {"bytes_read", k.bytes_read},
                  {"bytes_written", k.bytes_written}, {"deps", k.deps}, {"launches", launches}});
  }
  return {{"model", p.model},         {"batch", p.batch},         {"precision", kernels::precision_name(p.precision)},
          {"flops", p.total_flops()}, {"bytes", p.total_bytes()}, {"resources_note", resource_note(t)},
          {"kernels", ks}};
}

void print_plan(const models::Plan& p, const ResourceTarget& t) {
  fmt::print("{} at batch {}: {} kernels, {:.3f} GFLOPs, {:.1f} MB moved, precision {}\n", p.model, p.batch,
             p.kernels.size(), static_cast<double>(p.total_flops()) / 1e9, static_cast<double>(p.total_bytes()) / 1e6,
             kernels::precision_name(p.precision));
  fmt::print("{}\n", resource_note(t));
  fmt::print("{:>4}  {:<40} {:<14} {:<22} {:<20} {:>10} {:>10}  {:<38} {}  {}\n", "#", "name", "op", "detail", "output",
             "MFLOPs", "KB", "CUDA launch: kernel blocks x threads", launch_resources_header(), "deps");
  for (size_t i = 0; i < p.kernels.size(); ++i) {
    const auto& k = p.kernels[i];
    std::string launch = k.launches.empty() ? std::string("-")
                                            : fmt::format("{} {}x{}", k.launches[0].kernel, k.launches[0].grid.count(),
                                                          k.launches[0].block.count());
    if (k.launches.size() > 1) launch += fmt::format(" (+{})", k.launches.size() - 1);
    const std::string res = launch_resources_cell(k.launches.empty() ? kernels::LaunchGeometry{} : k.launches[0], t);
    fmt::print("{:>4}  {:<40} {:<14} {:<22} {:<20} {:>10.2f} {:>10.1f}  {:<38} {}  {}\n", i, k.name,
               models::op_name(k.op), k.detail, models::shape_str(k.output_shape), static_cast<double>(k.flops) / 1e6,
               static_cast<double>(k.bytes_read + k.bytes_written) / 1e3, launch, res, k.deps);
  }
}

}  // namespace

void register_plan(CLI::App& app) {
  auto args = std::make_shared<PlanArgs>();
  CLI::App* cmd = app.add_subcommand("plan", "Show a model's kernel launches at a batch size: shapes, FLOPs, bytes, dependencies");
  cmd->add_option("model", args->model, "A zoo model (dstack models lists them) or an .onnx file")->required();
  cmd->add_option("--batch,-b", args->batch, "Batch size")->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--precision", args->precision, "Storage precision of every tensor: fp32, fp16 or bf16")
      ->default_str("fp32");
  cmd->add_option("--arch", args->arch, "Device architecture for registers and occupancy: 80, 86, 89, 90 or sm_90")
      ->default_str("90");
  cmd->add_flag("--json", args->json, "Print the plan as JSON");
  cmd->callback([args] {
    const kernels::Precision precision = kernels::parse_precision(args->precision);  // throws, naming the choices
    models::Model m = load_model(args->model, args->seed, /*weights=*/false);
    models::Plan p = models::lower(m.graph, args->batch, precision);
    const ResourceTarget target = resource_target(args->arch);  // throws for an arch without SM limits
    if (args->json)
      std::cout << plan_json(p, target).dump(2) << "\n";
    else
      print_plan(p, target);
  });
}

}  // namespace dstack::app
