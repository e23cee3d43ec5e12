// An experiment YAML file: parse_experiment_config with the choices `dstack run` uses (zoo models,
// registered policies and their options, shipped devices), then its provenance JSON; ConfigError
// naming the file otherwise.
#include <string>

#include "app/experiment_options.h"
#include "fuzz/fuzz_support.h"
#include "runtime/serve/experiment_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const dstack::serve::ConfigChoices choices = dstack::app::config_choices();
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto path = dstack::fuzz::input_file("experiment.yaml");
  try {
    auto config = dstack::serve::parse_experiment_config(text, path, choices);
    (void)dstack::serve::to_json(config).dump();
  } catch (const dstack::serve::ConfigError& e) {
    dstack::fuzz::expect_names(e, path.string());
  } catch (const std::exception& e) {
    dstack::fuzz::undocumented(e);
  }
  return 0;
}
