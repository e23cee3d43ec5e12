#pragma once
// One checking macro per CUDA API family. Each names the failing call and file:line and throws
// dstack::ApiError. cuBLAS and cuDNN have theirs in check_cublas.h / check_cudnn.h so that only code
// linking those libraries includes them.
#include <cuda.h>
#include <cuda_runtime_api.h>

#include "runtime/core/error.h"

namespace dstack::cuda {

[[noreturn]] void throw_runtime_error(cudaError_t code, const char* call, const char* file, int line);
[[noreturn]] void throw_driver_error(CUresult code, const char* call, const char* file, int line);

inline void check_runtime(cudaError_t code, const char* call, const char* file, int line) {
  if (code != cudaSuccess) throw_runtime_error(code, call, file, line);
}
inline void check_driver(CUresult code, const char* call, const char* file, int line) {
  if (code != CUDA_SUCCESS) throw_driver_error(code, call, file, line);
}

}  // namespace dstack::cuda

#define DSTACK_CUDA_CHECK(call) ::dstack::cuda::check_runtime((call), #call, __FILE__, __LINE__)
#define DSTACK_CU_CHECK(call) ::dstack::cuda::check_driver((call), #call, __FILE__, __LINE__)
