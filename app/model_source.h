#pragma once
// Resolves the MODEL argument every subcommand takes: a zoo name, or a path ending in .onnx.
#include <cstdint>
#include <string>

#include "models/model.h"

namespace dstack::app {

// Throws std::invalid_argument for an unknown zoo name (listing the zoo) or an ONNX path in a build
// without ONNX support; the ONNX importer's own errors pass through.
models::Model load_model(const std::string& spec, uint64_t seed, bool weights = true);

}  // namespace dstack::app
