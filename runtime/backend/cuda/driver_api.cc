#include "runtime/backend/cuda/driver_api.h"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <atomic>
#include <mutex>

#include "runtime/backend/cuda/check.h"

namespace dstack::cuda {
namespace {

std::string version_text(int v) { return fmt::format("{}.{}", v / 1000, (v % 1000) / 10); }

// Returns an empty string on success, else why the symbol could not be had.
std::string load_symbol(const char* name, int since, void** fn) {
  cudaDriverEntryPointQueryResult status{};
  cudaError_t err = cudaGetDriverEntryPointByVersion(name, fn, CUDA_VERSION, cudaEnableDefault, &status);
  if (err == cudaSuccess && status == cudaDriverEntryPointSuccess && *fn != nullptr) return {};
  *fn = nullptr;
  if (err != cudaSuccess) {
    cudaGetLastError();
    return fmt::format("{} ({})", cudaGetErrorName(err), cudaGetErrorString(err));
  }
  if (status == cudaDriverEntryPointVersionNotSufficent)
    return fmt::format("Driver API symbol {} needs a driver for CUDA >= {}", name, version_text(since));
  return fmt::format("Driver API symbol {} not found in the installed driver (it needs CUDA >= {})", name,
                     version_text(since));
}

DriverApi load() {
  // The runtime loads the driver library on its first call; without one this is where we learn it.
  int device_count = 0;
  if (cudaError_t err = cudaGetDeviceCount(&device_count); err != cudaSuccess) {
    cudaGetLastError();
    throw DriverUnavailable(fmt::format("no usable CUDA driver/device: cudaGetDeviceCount returned {} ({})",
                                        cudaGetErrorName(err), cudaGetErrorString(err)));
  }
  DriverApi api;
#define DSTACK_LOAD_CORE(name, since)                                                                   \
  if (auto why = load_symbol(#name, since, reinterpret_cast<void**>(&api.name)); !why.empty())          \
    throw DriverUnavailable("the CUDA driver cannot be used: " + why);
  DSTACK_DRIVER_CORE_SYMBOLS(DSTACK_LOAD_CORE)
#undef DSTACK_LOAD_CORE
#define DSTACK_LOAD_GREEN(name, since)                                                                  \
  if (auto why = load_symbol(#name, since, reinterpret_cast<void**>(&api.name)); !why.empty())          \
    api.missing_green_context_symbols.push_back(why);
  DSTACK_DRIVER_GREEN_CONTEXT_SYMBOLS(DSTACK_LOAD_GREEN)
#undef DSTACK_LOAD_GREEN

  CUresult rc = api.cuInit(0);
  if (rc != CUDA_SUCCESS) {
    const char* name = nullptr;
    api.cuGetErrorName(rc, &name);
    throw DriverUnavailable(fmt::format("cuInit failed: {} ({})", name ? name : "unknown", static_cast<int>(rc)));
  }
  rc = api.cuDriverGetVersion(&api.driver_version);
  if (rc != CUDA_SUCCESS) throw DriverUnavailable("cuDriverGetVersion failed");
  return api;
}

std::once_flag g_once;
DriverApi g_api;
std::string g_error;
std::atomic<bool> g_loaded{false};

}  // namespace

void DriverApi::require_green_contexts() const {
  if (has_green_contexts()) return;
  std::string msg = fmt::format("green contexts are not available with this driver (CUDA {}):", version_text(driver_version));
  for (const auto& m : missing_green_context_symbols) msg += "\n  " + m;
  msg += "\nInstall an NVIDIA driver for CUDA 12.5 or newer, or run on the simulator (--backend sim).";
  throw DriverUnavailable(msg);
}

const DriverApi& driver() {
  std::call_once(g_once, [] {
    try {
      g_api = load();
      g_loaded.store(true, std::memory_order_release);
    } catch (const DriverUnavailable& e) {
      g_error = e.what();
    }
  });
  if (!g_loaded.load(std::memory_order_acquire)) throw DriverUnavailable(g_error);
  return g_api;
}

const DriverApi* driver_if_loaded() noexcept {
  return g_loaded.load(std::memory_order_acquire) ? &g_api : nullptr;
}

}  // namespace dstack::cuda
