#pragma once
// The cuBLAS checking macro; include only from code that links cuBLAS.
#include <cublas_api.h>

#include "runtime/core/error.h"

namespace dstack::cuda {
inline void check_cublas(cublasStatus_t code, const char* call, const char* file, int line) {
  if (code == CUBLAS_STATUS_SUCCESS) return;
  throw ApiError({ApiFamily::Cublas, static_cast<long long>(code), cublasGetStatusName(code),
                  cublasGetStatusString(code), call, file, line});
}
}  // namespace dstack::cuda

#define DSTACK_CUBLAS_CHECK(call) ::dstack::cuda::check_cublas((call), #call, __FILE__, __LINE__)
