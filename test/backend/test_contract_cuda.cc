// The backend contract on the GPU (CudaBackend): skipped, saying why, where no GPU with green
// contexts is usable.
#include <memory>

#include "models/zoo.h"
#include "runtime/backend/cuda/cuda_backend.h"
#include "test/backend/backend_contract.h"
#include "test/gpu/gpu_test_env.h"

namespace dstack::test {
namespace {

std::string unavailable() {
  if (!no_gpu_reason().empty()) return no_gpu_reason();
  const GpuDevice& d = gpu_report().devices.at(0);
  return d.green_contexts ? std::string() : "no green contexts: " + d.green_context_error;
}

// Both models resident once for the whole binary (weights uploaded, batches 1-8 warmed up).
std::shared_ptr<cuda::CudaServingDevice> device() {
  static std::shared_ptr<cuda::CudaServingDevice> d = [] {
    std::vector<cuda::CudaServingModel> models;
    for (const char* m : {kSmallModel, kLargeModel})
      models.push_back({m, std::make_shared<const models::Graph>(models::build_zoo_model(m, {}).graph)});
    cuda::CudaServingOptions o;
    o.max_batch = kContractMaxBatch;
    return std::make_shared<cuda::CudaServingDevice>(std::move(models), o);
  }();
  return d;
}

INSTANTIATE_TEST_SUITE_P(Gpu, BackendContract,
                         ::testing::Values(ContractBackend{
                             "cuda", unavailable,
                             [] { return std::unique_ptr<Backend>(std::make_unique<cuda::CudaBackend>(device())); },
                             true}),
                         contract_name);

}  // namespace
}  // namespace dstack::test
