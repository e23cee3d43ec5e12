// CUDA softmax, layer norm (one block per row, shuffle + shared-memory reductions) and mean over
// the middle axis (one thread per output). Geometry and index maps come from kernels/normalization.h.
// Templates over the storage type T: loads widen to fp32, all math in fp32, one rounding on store.
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/normalization.h"
#include "kernels/normalization_cuda.h"
#include "runtime/backend/cuda/check.h"

namespace dstack::kernels {

namespace {

struct SumOp {
  __device__ float operator()(float x, float y) const { return x + y; }
};
struct MaxOp {
  __device__ float operator()(float x, float y) const { return fmaxf(x, y); }
};

template <typename Op>
__device__ float warp_reduce(float v, Op op) {
#pragma unroll
  for (int offset = kNormWarp / 2; offset > 0; offset /= 2) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Reduces v over the whole block; every thread gets the same result. Must be called by all
// threads of the block (blockDim.x a multiple of 32, at most kNormMaxThreads). `scratch` holds one
// float per warp; the leading barrier makes reuse across successive calls safe.
template <typename Op>
__device__ float block_reduce(float v, float* scratch, Op op) {
  const int lane = int(threadIdx.x) % kNormWarp, warp = int(threadIdx.x) / kNormWarp;
  const int warps = norm_warps(int(blockDim.x));
  v = warp_reduce(v, op);
  __syncthreads();  // the previous call's readers are done with scratch
  if (lane == 0) scratch[warp] = v;
  __syncthreads();  // every warp's partial is written
  float r = scratch[0];
  for (int w = 1; w < warps; ++w) r = op(r, scratch[w]);  // same order in every thread
  return r;
}

template <typename T>
__global__ void __launch_bounds__(kNormMaxThreads)
    softmax_rows(int64_t rows, int64_t cols, const T* __restrict__ x, T* __restrict__ y) {
  __shared__ float scratch[kNormMaxThreads / kNormWarp];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {  // uniform across the block
    const T* x_row = x + row * cols;
    T* y_row = y + row * cols;
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, to_f32(x_row[j]));
    m = block_reduce(m, scratch, MaxOp{});
    float s = 0.f;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) s += expf(to_f32(x_row[j]) - m);
    s = block_reduce(s, scratch, SumOp{});
    const float inv_sum = 1.f / s;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
      y_row[j] = from_f32<T>(expf(to_f32(x_row[j]) - m) * inv_sum);
  }
}

template <typename T>
__global__ void __launch_bounds__(kNormMaxThreads)
    layernorm_rows(int64_t rows, int64_t cols, const T* __restrict__ x, const T* __restrict__ gamma,
                   const T* __restrict__ beta, float eps, T* __restrict__ y) {
  __shared__ float scratch[kNormMaxThreads / kNormWarp];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {  // uniform across the block
    const T* x_row = x + row * cols;
    T* y_row = y + row * cols;
    float s = 0.f;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) s += to_f32(x_row[j]);
    const float mean = block_reduce(s, scratch, SumOp{}) / float(cols);
    float sq = 0.f;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const float d = to_f32(x_row[j]) - mean;
      sq += d * d;
    }
    const float var = block_reduce(sq, scratch, SumOp{}) / float(cols);
    const float inv_std = 1.f / sqrtf(var + eps);
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const float g = gamma != nullptr ? to_f32(gamma[j]) : 1.f;
      const float b = beta != nullptr ? to_f32(beta[j]) : 0.f;
      y_row[j] = from_f32<T>((to_f32(x_row[j]) - mean) * inv_std * g + b);
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kReduceMeanThreads)
    reduce_mean(int64_t outer, int64_t reduce, int64_t inner, const T* __restrict__ x, T* __restrict__ y) {
  const int64_t outputs = outer * inner;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < outputs; idx += step) {
    const ReduceMeanIndex t = reduce_mean_split(idx, inner);
    float s = 0.f;
    for (int64_t r = 0; r < reduce; ++r) s += to_f32(x[reduce_mean_offset(t.o, r, t.i, reduce, inner)]);
    y[idx] = from_f32<T>(s / float(reduce));
  }
}

void check_pointers(const char* op, const void* in, const void* out) {
  if (in == nullptr || out == nullptr) throw std::invalid_argument(std::string(op) + ": null input or output pointer");
}

dim3 to_dim3(const Dim3& d) { return dim3(d.x, d.y, d.z); }

}  // namespace

template <typename T>
void softmax_cuda(int64_t rows, int64_t cols, const T* x, T* y, cudaStream_t stream) {
  const LaunchGeometry g = softmax_launch(rows, cols, precision_of<T>());
  if (g.grid.count() == 0) return;
  check_pointers("softmax", x, y);
  softmax_rows<T><<<to_dim3(g.grid), to_dim3(g.block), 0, stream>>>(rows, cols, x, y);
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void layernorm_cuda(int64_t rows, int64_t cols, const T* x, nondeduced<const T*> gamma, nondeduced<const T*> beta,
                    float eps, T* y, cudaStream_t stream) {
  const LaunchGeometry g = layernorm_launch(rows, cols, precision_of<T>());
  if (g.grid.count() == 0) return;
  check_pointers("layernorm", x, y);
  layernorm_rows<T><<<to_dim3(g.grid), to_dim3(g.block), 0, stream>>>(rows, cols, x, gamma, beta, eps, y);
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void reduce_mean_cuda(int64_t outer, int64_t reduce, int64_t inner, const T* x, T* y, cudaStream_t stream) {
  const LaunchGeometry g = reduce_mean_launch(outer, reduce, inner, precision_of<T>());
  if (g.grid.count() == 0) return;
  if (y == nullptr || (reduce > 0 && x == nullptr))
    throw std::invalid_argument("reduce_mean: null input or output pointer");
  reduce_mean<T><<<to_dim3(g.grid), to_dim3(g.block), 0, stream>>>(outer, reduce, inner, x, y);
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

#define DSTACK_INSTANTIATE_NORMALIZATION(T)                                                                      \
  template void softmax_cuda<T>(int64_t, int64_t, const T*, T*, cudaStream_t);                                  \
  template void layernorm_cuda<T>(int64_t, int64_t, const T*, const T*, const T*, float, T*, cudaStream_t);       \
  template void reduce_mean_cuda<T>(int64_t, int64_t, int64_t, const T*, T*, cudaStream_t);
DSTACK_INSTANTIATE_FOR_STORAGE_TYPES(DSTACK_INSTANTIATE_NORMALIZATION)
#undef DSTACK_INSTANTIATE_NORMALIZATION

}  // namespace dstack::kernels
