#pragma once
// The model zoo: the paper's DNNs (plus BERT-base), built by code with torchvision's names.
#include <cstdint>
#include <string>
#include <vector>

#include "models/builder.h"
#include "models/model.h"

namespace dstack::models {

struct ZooEntry {
  std::string name;
  std::string description;
  Model (*build)(const BuildOptions& options);
};

const std::vector<ZooEntry>& zoo();
// Throws std::invalid_argument naming the valid names when `name` is unknown.
Model build_zoo_model(const std::string& name, const BuildOptions& options);
// With weights from `seed`.
Model build_zoo_model(const std::string& name, uint64_t seed);

}  // namespace dstack::models
