// read_npy on arbitrary bytes: NpyError naming the file, or an array whose element count matches its
// shape.
#include "fuzz/fuzz_support.h"
#include "runtime/core/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dstack::fuzz::read_file<dstack::NpyError>(data, size, "input.npy", [](const std::filesystem::path& path) {
    const dstack::NpyArray a = dstack::read_npy(path.string());
    int64_t n = 1;
    for (int64_t d : a.shape) n *= d;
    if (static_cast<size_t>(n) != a.data.size()) dstack::fuzz::fail("shape and data disagree", path.string());
  });
  return 0;
}
