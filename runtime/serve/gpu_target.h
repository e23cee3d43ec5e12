#pragma once
// A GPU as the place an experiment's runs execute (`dstack run --backend gpu`): the models made
// resident once (weights seeded or from the ONNX file), a CUDA backend per policy sharing them, and
// the policies planning with the shipped description of that GPU, adjusted to what the driver
// reports. CPU-only header: the CUDA side is in gpu_target_cuda.cc, and a build without CUDA links
// gpu_target_none.cc, which says so.
#include <functional>
#include <memory>
#include <string>

#include "models/graph.h"
#include "runtime/serve/serving_target.h"

namespace dstack::serve {

struct GpuTargetOptions {
  // A config's `model` (zoo name or .onnx path) as a graph with weights (seed: the experiment's).
  std::function<std::shared_ptr<const models::Graph>(const std::string& spec, uint64_t seed)> load_weights;
  std::shared_ptr<const sim::CostModel> cost;  // the policies' cost model (null: the roofline)
  // The simulator-only --mode does not apply: a GPU run says so if one was asked for.
};

// Throws std::runtime_error with the driver's reason when no GPU can be used, std::invalid_argument
// for a build without the CUDA backend, a GPU no shipped description matches, an experiment that
// does not fit in the GPU's memory, or a model its kernels cannot run at the precision: all before
// any request is served.
ServingTarget gpu_target(const ExperimentConfig& config, const GpuTargetOptions& options);

// Whether this build has the CUDA serving backend.
bool gpu_serving_built();

}  // namespace dstack::serve
