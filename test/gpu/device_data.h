#pragma once
// Moving test data to and from the GPU, shared by every GPU test.
#include <algorithm>
#include <vector>

#include "runtime/backend/cuda/check.h"
#include "runtime/backend/cuda/resources.h"

namespace dstack::test {

// At least one element is allocated, so even an empty tensor has a valid, non-null pointer.
inline cuda::DeviceBuffer upload(const std::vector<float>& host) {
  cuda::DeviceBuffer b(std::max<size_t>(host.size(), 1) * sizeof(float));
  if (!host.empty())
    DSTACK_CUDA_CHECK(cudaMemcpy(b.data(), host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice));
  return b;
}

// An output buffer of NaNs (every byte 0xFF), so an element a kernel fails to write fails the check.
inline cuda::DeviceBuffer poisoned(size_t count) {
  cuda::DeviceBuffer b(std::max<size_t>(count, 1) * sizeof(float));
  DSTACK_CUDA_CHECK(cudaMemset(b.data(), 0xFF, b.bytes()));
  return b;
}

inline std::vector<float> download(const cuda::DeviceBuffer& b, size_t count) {
  std::vector<float> host(count);
  if (count > 0) DSTACK_CUDA_CHECK(cudaMemcpy(host.data(), b.data(), count * sizeof(float), cudaMemcpyDeviceToHost));
  return host;
}

}  // namespace dstack::test
