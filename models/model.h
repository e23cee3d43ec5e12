#pragma once
// A loaded model: its graph plus what the user sees of it.
#include <cstdint>
#include <string>

#include "models/graph.h"

namespace dstack::models {

struct Model {
  Graph graph;
  // Parameters as the source framework counts them (torchvision counts batch-norm's weight and
  // bias but not its running statistics); folding batch-norm changes the stored constants, not this.
  int64_t param_count = 0;
  std::string source;  // "zoo" or the ONNX file's path
  uint64_t seed = 0;   // seed of the random weights (zoo), 0 for loaded weights
};

}  // namespace dstack::models
