// load_onnx on arbitrary bytes (seeded with the ONNX fixtures, so the fuzzer mutates real graphs):
// a model, or OnnxError naming the file.
#include "fuzz/fuzz_support.h"
#include "models/onnx/onnx_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dstack::fuzz::read_file<dstack::models::OnnxError>(
      data, size, "model.onnx", [](const std::filesystem::path& path) { dstack::models::load_onnx(path.string()); });
  return 0;
}
