#pragma once
// Each subcommand lives in its own file and registers itself on the top-level app here.
#include <CLI/CLI.hpp>

namespace dstack::app {

void register_info(CLI::App& app);

}  // namespace dstack::app
