#include "runtime/backend/cuda/check.h"

#include <string>

#include "runtime/backend/cuda/driver_api.h"

namespace dstack::cuda {

void throw_runtime_error(cudaError_t code, const char* call, const char* file, int line) {
  cudaGetLastError();  // clear a non-sticky error so the next call does not report it again
  throw ApiError({ApiFamily::Runtime, static_cast<long long>(code), cudaGetErrorName(code),
                  cudaGetErrorString(code), call, file, line});
}

void throw_driver_error(CUresult code, const char* call, const char* file, int line) {
  std::string name = "CUresult " + std::to_string(static_cast<int>(code));
  std::string description = "(no driver loaded to describe it)";
  if (const DriverApi* api = driver_if_loaded()) {
    const char* n = nullptr;
    const char* d = nullptr;
    if (api->cuGetErrorName(code, &n) == CUDA_SUCCESS && n) name = n;
    if (api->cuGetErrorString(code, &d) == CUDA_SUCCESS && d) description = d;
  }
  throw ApiError({ApiFamily::Driver, static_cast<long long>(code), name, description, call, file, line});
}

}  // namespace dstack::cuda
