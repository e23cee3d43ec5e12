#pragma once
// A host tensor: full shape (batch first for activations) and float32 data, row-major.
#include <vector>

#include "models/graph.h"

namespace dstack::models {

struct Tensor {
  Shape shape;
  std::vector<float> data;
};

}  // namespace dstack::models
