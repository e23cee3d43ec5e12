// A profile (`dstack profile`'s P.csv, read by knee, batch and the policies): read_profile_csv,
// std::invalid_argument naming the file otherwise.
#include <stdexcept>

#include "fuzz/fuzz_support.h"
#include "runtime/sim/profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dstack::fuzz::read_file<std::invalid_argument>(data, size, "profile.csv", dstack::sim::read_profile_csv);
  return 0;
}
