// load_onnx: parse the file with the ONNX protobuf classes, then hand the model to the Importer.
#include "models/onnx/onnx_import.h"

#include <fmt/format.h>

#include <fstream>

#include "models/onnx/importer.h"
#include "models/onnx/onnx_proto.h"

namespace dstack::models {

Model load_onnx(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw OnnxError(fmt::format("{}: cannot open the file", path));
  onnx::ModelProto model;
  if (!model.ParseFromIstream(&file))
    throw OnnxError(fmt::format("{}: not a valid ONNX model: protobuf parsing failed (the file is truncated, "
                                "corrupt or not an ONNX model)", path));
  return onnx_import::Importer(model, path).run();
}

}  // namespace dstack::models
