// `dstack models`: the zoo, with the size of each model.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "models/plan.h"
#include "models/zoo.h"

namespace dstack::app {

void register_models(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("models", "List the model zoo: parameters, GFLOPs at batch 1, kernels, input shape");
  cmd->add_flag("--json", *json, "Print a JSON array of {name, params, flops, kernels, input}");
  cmd->callback([json] {
    nlohmann::json all = nlohmann::json::array();
    if (!*json) fmt::print("{:<18} {:>14} {:>10} {:>8}  {}\n", "model", "params", "GFLOPs", "kernels", "input");
    for (const models::ZooEntry& e : models::zoo()) {
      models::Model m = e.build(models::BuildOptions{.seed = 1, .weights = false});
      models::Plan p = models::lower(m.graph, 1);
      const models::Value& in = m.graph.value(m.graph.inputs().at(0));
      if (*json) {
        all.push_back({{"name", e.name}, {"params", m.param_count}, {"flops", p.total_flops()},
                       {"kernels", p.kernels.size()}, {"input", in.shape}, {"description", e.description}});
      } else {
        fmt::print("{:<18} {:>14L} {:>10.2f} {:>8}  {}\n", e.name, m.param_count, static_cast<double>(p.total_flops()) / 1e9,
                   p.kernels.size(), models::shape_str(in.shape));
      }
    }
    if (*json) std::cout << all.dump(2) << "\n";
  });
}

}  // namespace dstack::app
