// An arrival trace (`kind: trace`, a CSV with a time_s column): read_arrival_trace returns sorted,
// finite, non-negative times, or std::invalid_argument naming the file.
#include <cmath>
#include <stdexcept>

#include "fuzz/fuzz_support.h"
#include "runtime/serve/arrivals.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dstack::fuzz::read_file<std::invalid_argument>(data, size, "trace.csv", [](const std::filesystem::path& path) {
    const auto times = dstack::serve::read_arrival_trace(path);
    for (size_t i = 0; i < times.size(); ++i) {
      if (!std::isfinite(times[i]) || times[i] < 0) dstack::fuzz::fail("a time that is not finite and >= 0", path.string());
      if (i > 0 && times[i] < times[i - 1]) dstack::fuzz::fail("times out of order", path.string());
    }
  });
  return 0;
}
