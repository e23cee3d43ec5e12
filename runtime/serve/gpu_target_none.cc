// gpu_target() in a build without the CUDA backend.
#include <stdexcept>

#include "runtime/serve/gpu_target.h"

namespace dstack::serve {

ServingTarget gpu_target(const ExperimentConfig&, const GpuTargetOptions&) {
  throw std::invalid_argument("backend gpu: this build has no CUDA backend (configured without the CUDA toolkit); "
                              "rebuild with nvcc on PATH, or run with --backend sim");
}

bool gpu_serving_built() { return false; }

}  // namespace dstack::serve
