// CUDA conversion between fp32 and fp16 / bf16: a grid-stride loop, one element per iteration.
#include <stdexcept>

#include "kernels/convert_cuda.h"
#include "runtime/backend/cuda/check.h"

namespace dstack::kernels {
namespace {

template <typename From, typename To>
__global__ void __launch_bounds__(kConvertBlock)
    convert_elements(int64_t count, const From* __restrict__ from, To* __restrict__ to) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    to[i] = from_f32<To>(to_f32(from[i]));
}

}  // namespace

template <typename From, typename To>
void convert_cuda(int64_t count, const From* from, To* to, cudaStream_t stream) {
  if (count < 0) throw std::invalid_argument("convert_cuda: negative count");
  const LaunchGeometry g = convert_launch(count, precision_of<From>(), precision_of<To>());
  if (count == 0 || g.grid.x == 0) return;
  if (from == nullptr || to == nullptr) throw std::invalid_argument("convert_cuda: null pointer");
  convert_elements<From, To><<<dim3(g.grid.x), dim3(g.block.x), 0, stream>>>(count, from, to);
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

template void convert_cuda<float, __half>(int64_t, const float*, __half*, cudaStream_t);
template void convert_cuda<__half, float>(int64_t, const __half*, float*, cudaStream_t);
template void convert_cuda<float, __nv_bfloat16>(int64_t, const float*, __nv_bfloat16*, cudaStream_t);
template void convert_cuda<__nv_bfloat16, float>(int64_t, const __nv_bfloat16*, float*, cudaStream_t);

}  // namespace dstack::kernels
