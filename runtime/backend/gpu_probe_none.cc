// probe_gpus() for builds without the CUDA backend (DSTACK_ENABLE_CUDA=OFF or no toolkit).
#include "runtime/backend/gpu_info.h"

namespace dstack {

GpuReport probe_gpus() {
  GpuReport report;
  report.cuda_compiled = false;
  report.unavailable_reason =
      "this build has no CUDA backend (configured with DSTACK_ENABLE_CUDA=OFF or without a CUDA toolkit); "
      "rebuild with the CUDA toolkit on PATH to use a GPU";
  return report;
}

}  // namespace dstack
