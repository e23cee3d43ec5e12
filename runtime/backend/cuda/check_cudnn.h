#pragma once
// The cuDNN checking macro; include only from code that links cuDNN.
#include <cudnn.h>

#include "runtime/core/error.h"

namespace dstack::cuda {
inline void check_cudnn(cudnnStatus_t code, const char* call, const char* file, int line) {
  if (code == CUDNN_STATUS_SUCCESS) return;
  // cuDNN 9 keeps a per-thread message with the detail (which descriptor, which limit).
  char detail[512] = {0};
  cudnnGetLastErrorString(detail, sizeof detail);
  throw ApiError({ApiFamily::Cudnn, static_cast<long long>(code), cudnnGetErrorString(code),
                  detail[0] ? detail : "no further detail from cuDNN", call, file, line});
}
}  // namespace dstack::cuda

#define DSTACK_CUDNN_CHECK(call) ::dstack::cuda::check_cudnn((call), #call, __FILE__, __LINE__)
