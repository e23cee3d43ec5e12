// probe_gpus() for builds with the CUDA backend: asks the driver through the entry-point table.
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include "runtime/backend/cuda/check.h"
#include "runtime/backend/cuda/driver_api.h"
#include "runtime/backend/cuda/green_context.h"
#include "runtime/backend/gpu_info.h"

namespace dstack {
namespace {

int attribute(const cuda::DriverApi& api, CUdevice dev, CUdevice_attribute which) {
  int v = 0;
  DSTACK_CU_CHECK(api.cuDeviceGetAttribute(&v, which, dev));
  return v;
}

GpuDevice describe(const cuda::DriverApi& api, int ordinal) {
  CUdevice dev{};
  DSTACK_CU_CHECK(api.cuDeviceGet(&dev, ordinal));
  GpuDevice d;
  d.ordinal = ordinal;
  char name[256] = {0};
  DSTACK_CU_CHECK(api.cuDeviceGetName(name, sizeof name - 1, dev));
  d.name = name;
  d.pci_bus_id = fmt::format("{:04x}:{:02x}:{:02x}.0", attribute(api, dev, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID),
                             attribute(api, dev, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID),
                             attribute(api, dev, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID));
  d.sm_count = attribute(api, dev, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
  d.cc_major = attribute(api, dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
  d.cc_minor = attribute(api, dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
  size_t mem = 0;
  DSTACK_CU_CHECK(api.cuDeviceTotalMem(&mem, dev));
  d.total_memory_bytes = mem;
  d.max_threads_per_sm = attribute(api, dev, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR);
  d.max_blocks_per_sm = attribute(api, dev, CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR);
  d.registers_per_sm = attribute(api, dev, CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR);
  d.shared_memory_per_sm_bytes =
      static_cast<std::size_t>(attribute(api, dev, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR));
  d.l2_cache_bytes = static_cast<std::size_t>(attribute(api, dev, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE));
  d.sm_clock_khz = attribute(api, dev, CU_DEVICE_ATTRIBUTE_CLOCK_RATE);
  d.memory_clock_khz = attribute(api, dev, CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE);
  d.memory_bus_width_bits = attribute(api, dev, CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH);
  try {
    d.green_contexts = cuda::query_sm_granularity(ordinal);
  } catch (const std::exception& e) {
    // A device without green contexts is still a usable GPU (whole-device runs); say why.
    d.green_context_error = e.what();
  }
  return d;
}

}  // namespace

GpuReport probe_gpus() {
  GpuReport report;
  report.cuda_compiled = true;
  cudaRuntimeGetVersion(&report.runtime_version);
  const cuda::DriverApi* api = nullptr;
  try {
    api = &cuda::driver();
  } catch (const cuda::DriverUnavailable& e) {
    report.unavailable_reason = e.what();
    return report;
  }
  report.driver_version = api->driver_version;
  int count = 0;
  DSTACK_CUDA_CHECK(cudaGetDeviceCount(&count));
  for (int i = 0; i < count; ++i) report.devices.push_back(describe(*api, i));
  if (report.devices.empty()) report.unavailable_reason = "the CUDA driver reports no devices";
  return report;
}

}  // namespace dstack
