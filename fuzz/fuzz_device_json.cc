// A device description (devices/*.json): parse_device_json, std::invalid_argument naming the origin
// otherwise.
#include <stdexcept>
#include <string>

#include "fuzz/fuzz_support.h"
#include "runtime/sim/device_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string origin = "fuzzed_device.json";
  try {
    dstack::sim::parse_device_json(text, origin);
  } catch (const std::invalid_argument& e) {
    dstack::fuzz::expect_names(e, origin);
  } catch (const std::exception& e) {
    dstack::fuzz::undocumented(e);
  }
  return 0;
}
