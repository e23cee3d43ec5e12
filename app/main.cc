// The dstack command line: thin, it parses, calls the layers and prints.
#include <exception>
#include <iostream>
#include <string>

#include "app/commands.h"
#include "runtime/core/build_info.h"

int main(int argc, char** argv) {
  CLI::App app{"dstack: several DNNs on one GPU, scheduled in space (SM partitions) and time", "dstack"};
  app.set_version_flag("--version", std::string("dstack ") + dstack::build_info().version + " (commit " +
                                        dstack::build_info().commit + ")");
  app.require_subcommand(1);
  dstack::app::register_info(app);
  dstack::app::register_models(app);
  dstack::app::register_plan(app);
  dstack::app::register_infer(app);
  dstack::app::register_kernels(app);
  dstack::app::register_sim(app);
  dstack::app::register_profile(app);
  dstack::app::register_knee(app);
  dstack::app::register_batch(app);
  dstack::app::register_run(app);
  dstack::app::register_capacity(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 reports a mistyped subcommand as a missing one; name what was typed and what exists.
    if (argc > 1 && argv[1][0] != '-' && app.get_subcommands().empty()) {
      std::string known;
      for (const CLI::App* sub : app.get_subcommands({})) known += (known.empty() ? "" : ", ") + sub->get_name();
      std::cerr << "dstack: error: unknown subcommand '" << argv[1] << "'; choose one of: " << known
                << " (dstack --help lists them)\n";
      return 2;
    }
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "dstack: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
