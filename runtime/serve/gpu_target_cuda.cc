// gpu_target() with the CUDA backend: one CudaServingDevice per experiment, a CudaBackend per policy.
#include <fmt/format.h>

#include <stdexcept>

#include "runtime/backend/cuda/cuda_backend.h"
#include "runtime/backend/cuda/driver_api.h"
#include "runtime/backend/gpu_info.h"
#include "runtime/serve/gpu_target.h"
#include "runtime/sim/device_match.h"

namespace dstack::serve {

ServingTarget gpu_target(const ExperimentConfig& c, const GpuTargetOptions& o) {
  const GpuReport report = probe_gpus();
  if (!report.usable()) throw std::runtime_error("backend gpu: " + report.unavailable_reason);
  const GpuDevice& gpu = report.devices.at(0);
  sim::MatchedDevice matched = sim::match_device(gpu);
  if (!o.load_weights) throw std::invalid_argument("backend gpu: no way to load the models' weights was given");

  std::vector<cuda::CudaServingModel> models;
  for (const ModelConfig& m : c.models) models.push_back({m.name, o.load_weights(m.model, c.seed)});
  cuda::CudaServingOptions so;
  so.precision = c.precision;
  so.max_batch = c.gpu.max_batch;
  so.copy_inputs = c.gpu.input_copy;
  so.seed = c.seed;
  std::shared_ptr<cuda::CudaServingDevice> device;
  try {
    device = std::make_shared<cuda::CudaServingDevice>(std::move(models), so);
  } catch (const cuda::DriverUnavailable& e) {
    throw std::runtime_error(std::string("backend gpu: ") + e.what());
  }

  ServingTarget t;
  t.measured = true;
  t.device = matched.spec;
  t.cost = o.cost ? o.cost : std::make_shared<const sim::RooflineCostModel>();
  t.make_backend = [device]() -> std::unique_ptr<Backend> { return std::make_unique<cuda::CudaBackend>(device); };
  const std::string driver = cuda_version_string(report.driver_version);
  t.label = fmt::format("measured on {} ({} SMs), driver {}", gpu.name, gpu.sm_count, driver);
  t.where = fmt::format("(policies plan with {})", matched.spec.file);
  t.details = fmt::format(", {}, graphs for batches 1-{}{}", c.gpu.input_copy ? "inputs copied from pinned memory"
                                                                                : "no input copy",
                          c.gpu.max_batch, t.cost->name() == "roofline" ? "" : ", cost model " + t.cost->name());
  t.provenance = {{"simulated", false},
                  {"backend", "gpu"},
                  {"measured_on", gpu.name},
                  {"gpu_sm_count", gpu.sm_count},
                  {"driver", driver},
                  {"device", matched.spec.name},
                  {"device_file", matched.spec.file},
                  {"device_adjustments", matched.notes},
                  {"cost_model", t.cost->name()},
                  {"input_copy", c.gpu.input_copy},
                  {"max_batch", c.gpu.max_batch},
                  {"resident_mib", static_cast<double>(device->resident_bytes()) / (1 << 20)},
                  {"free_mib_after", static_cast<double>(device->free_bytes_after()) / (1 << 20)},
                  {"setup_s", device->setup_s()},
                  {"clock", "wall time; run start and finish from CUDA events on each run's stream"},
                  {"sm_utilization", "unknown: no counter of resident blocks that leaves kernels concurrent"}};
  t.notes = matched.notes;
  if (c.device != matched.spec.name)
    t.notes.push_back(fmt::format("the config names device {}; on this GPU the policies plan with {}", c.device,
                                  matched.spec.file));
  t.provenance["notes"] = t.notes;
  return t;
}

bool gpu_serving_built() { return true; }

}  // namespace dstack::serve
