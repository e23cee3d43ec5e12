// Measured kernel times (`--kernel-times`, a profile's P.kernels.csv): read_kernel_times_csv,
// std::invalid_argument naming the file otherwise.
#include <stdexcept>

#include "fuzz/fuzz_support.h"
#include "runtime/sim/cost_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dstack::fuzz::read_file<std::invalid_argument>(data, size, "kernel_times.csv", dstack::sim::read_kernel_times_csv);
  return 0;
}
