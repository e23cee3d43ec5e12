// `dstack info`: the build, and the GPUs the driver reports (or why there are none).
#include <iostream>
#include <memory>

#include "app/commands.h"
#include "app/info_render.h"

namespace dstack::app {

void register_info(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "info", "Print the build and the GPUs found: SMs, memory, driver, and the green-context partition sizes");
  cmd->add_flag("--json", *json, "Print one JSON object instead of text");
  cmd->callback([json] {
    GpuReport gpus = probe_gpus();
    if (*json)
      std::cout << render_info_json(build_info(), gpus).dump(2) << "\n";
    else
      std::cout << render_info_text(build_info(), gpus);
  });
}

}  // namespace dstack::app
