#pragma once
// The CUDA storage types of each Precision and conversion between them: the launcher
// convert_cuda, and (under nvcc) the device helpers every kernel uses to widen a stored element to
// fp32 and to round an fp32 result once on store.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/convert.h"
#include "kernels/precision.h"

namespace dstack::kernels {

// nondeduced<const T*>: a parameter that takes its type from the others, so that an optional pointer
// (bias, residual) can be passed as nullptr. (std::type_identity_t is C++20; CUDA code here is C++17.)
template <typename T>
struct identity_type {
  using type = T;
};
template <typename T>
using nondeduced = typename identity_type<T>::type;

// The Precision of a storage type (float, __half, __nv_bfloat16).
template <typename T>
constexpr Precision precision_of();
template <>
constexpr Precision precision_of<float>() { return Precision::F32; }
template <>
constexpr Precision precision_of<__half>() { return Precision::F16; }
template <>
constexpr Precision precision_of<__nv_bfloat16>() { return Precision::BF16; }

// to[i] = From -> To for i < count, rounding to nearest even (as round_to_precision). Instantiated
// for float <-> __half and float <-> __nv_bfloat16. Asynchronous on `stream`; count == 0 launches
// nothing; throws std::invalid_argument for a negative count or null pointers with work to do.
template <typename From, typename To>
void convert_cuda(int64_t count, const From* from, To* to, cudaStream_t stream);

// fp32 -> storage type on the host (round to nearest even, as round_to_precision): for scalars
// passed by value to a kernel, e.g. pad's fill value.
template <typename T>
T host_from_f32(float v);
template <>
inline float host_from_f32<float>(float v) { return v; }
template <>
inline __half host_from_f32<__half>(float v) {
  __half_raw raw;
  raw.x = float_to_half_bits(v);
  return __half(raw);
}
template <>
inline __nv_bfloat16 host_from_f32<__nv_bfloat16>(float v) {
  __nv_bfloat16_raw raw;
  raw.x = float_to_bf16_bits(v);
  return __nv_bfloat16(raw);
}

#ifdef __CUDACC__
// Widen a stored element to fp32 (exact) / round an fp32 value to the storage type (nearest even).
__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
#endif

}  // namespace dstack::kernels

// Explicitly instantiates a launcher template `fn` for the three storage types (used in the .cu files).
#define DSTACK_INSTANTIATE_FOR_STORAGE_TYPES(MACRO) \
  MACRO(float)                                      \
  MACRO(__half)                                     \
  MACRO(__nv_bfloat16)
