#pragma once
// Runs a graph on the CPU with the reference kernels: the correctness oracle for every other backend.
#include <vector>

#include "models/graph.h"
#include "models/tensor.h"

namespace dstack {

// inputs[i] feeds graph.inputs()[i]; each must have shape [batch] + that input's per-sample shape
// (same batch for all). Returns the graph's outputs in order. Throws std::invalid_argument for
// inputs of the wrong count or shape (naming the input, the shape given and the one expected) and
// models::GraphError for a failure inside a node (naming it, e.g. an embedding id out of range).
std::vector<models::Tensor> run_cpu(const models::Graph& graph, const std::vector<models::Tensor>& inputs);

}  // namespace dstack
