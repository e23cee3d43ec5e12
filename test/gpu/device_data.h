#pragma once
// Moving test data to and from the GPU, shared by every GPU test: fp32 as is, and for the
// per-precision kernel tests in any storage type (float, __half, __nv_bfloat16), converted on the
// host with the bit-exact rounding of kernels/precision.h.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/convert_cuda.h"
#include "kernels/precision.h"
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

// ---- Any storage type ----

// The storage types the kernels are instantiated for, for typed tests; named fp32 / fp16 / bf16.
using StorageTypes = ::testing::Types<float, __half, __nv_bfloat16>;
struct StorageTypeNames {
  template <typename T>
  static std::string GetName(int) {
    return kernels::precision_name(kernels::precision_of<T>());
  }
};

// Calls f.template operator()<T>() with T the storage type of precision p, for tests parametrized
// by a run-time Precision.
template <typename F>
void with_storage_type(kernels::Precision p, F&& f) {
  switch (p) {
    case kernels::Precision::F32: f.template operator()<float>(); return;
    case kernels::Precision::F16: f.template operator()<__half>(); return;
    case kernels::Precision::BF16: f.template operator()<__nv_bfloat16>(); return;
  }
}

inline constexpr kernels::Precision kAllPrecisions[] = {kernels::Precision::F32, kernels::Precision::F16,
                                                         kernels::Precision::BF16};

// Each value rounded to T's precision (what the GPU will see once uploaded), still as fp32: the
// CPU reference runs on these.
template <typename T>
std::vector<float> rounded(std::vector<float> v) {
  for (float& x : v) x = kernels::round_to_precision(x, kernels::precision_of<T>());
  return v;
}

// Uploads host fp32 values as T (rounded to nearest even); at least one element is allocated.
template <typename T>
cuda::DeviceBuffer upload_as(const std::vector<float>& host) {
  cuda::DeviceBuffer b(std::max<size_t>(host.size(), 1) * sizeof(T));
  if (host.empty()) return b;
  std::vector<T> converted(host.size());
  for (size_t i = 0; i < host.size(); ++i) converted[i] = kernels::host_from_f32<T>(host[i]);
  DSTACK_CUDA_CHECK(cudaMemcpy(b.data(), converted.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  return b;
}

// count elements of T, every byte 0xFF: NaN in fp32, fp16 and bf16 alike.
template <typename T>
cuda::DeviceBuffer poisoned_as(size_t count) {
  cuda::DeviceBuffer b(std::max<size_t>(count, 1) * sizeof(T));
  DSTACK_CUDA_CHECK(cudaMemset(b.data(), 0xFF, b.bytes()));
  return b;
}

// Downloads count elements of T, widened to fp32 (exact).
template <typename T>
std::vector<float> download_as_float(const cuda::DeviceBuffer& b, size_t count) {
  std::vector<float> out(count);
  if (count == 0) return out;
  if constexpr (std::is_same_v<T, float>) {
    DSTACK_CUDA_CHECK(cudaMemcpy(out.data(), b.data(), count * sizeof(float), cudaMemcpyDeviceToHost));
  } else {
    std::vector<uint16_t> bits(count);
    DSTACK_CUDA_CHECK(cudaMemcpy(bits.data(), b.data(), count * sizeof(uint16_t), cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < count; ++i)
      out[i] = std::is_same_v<T, __half> ? kernels::half_bits_to_float(bits[i]) : kernels::bf16_bits_to_float(bits[i]);
  }
  return out;
}

}  // namespace dstack::test
