#pragma once
// Each subcommand lives in its own file and registers itself on the top-level app here.
#include <CLI/CLI.hpp>

namespace dstack::app {

void register_info(CLI::App& app);
void register_models(CLI::App& app);
void register_plan(CLI::App& app);
void register_infer(CLI::App& app);
void register_kernels(CLI::App& app);
void register_sim(CLI::App& app);
void register_profile(CLI::App& app);
void register_knee(CLI::App& app);
void register_batch(CLI::App& app);
void register_run(CLI::App& app);
void register_capacity(CLI::App& app);

}  // namespace dstack::app
