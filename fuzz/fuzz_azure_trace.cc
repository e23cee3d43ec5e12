// The Azure Functions trace (`kind: azure`): generate_arrivals reads the first data row and replays
// two minutes of it; std::invalid_argument naming the file otherwise. A replay is bounded by the
// same request limit as every workload, so a row of absurd counts is an error, not an allocation.
#include <stdexcept>

#include "fuzz/fuzz_support.h"
#include "runtime/serve/azure_trace.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dstack::fuzz::read_file<std::invalid_argument>(data, size, "azure.csv", [](const std::filesystem::path& path) {
    dstack::serve::ArrivalSpec spec;
    spec.kind = dstack::serve::ArrivalKind::Azure;
    spec.file = path;
    dstack::serve::generate_arrivals(spec, 120.0, 7);
  });
  return 0;
}
