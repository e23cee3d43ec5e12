// CUDA elementwise layers: unary math, binary ops with NumPy broadcasting, channel affine. Each is
// a grid-stride loop over the output; geometry from kernels/elementwise.h. Templates over the
// storage type T: loads widen to fp32, the math runs in fp32, one rounding on store.
#include <stdexcept>

#include "kernels/elementwise_cuda.h"
#include "runtime/backend/cuda/check.h"

namespace dstack::kernels {
namespace {

template <typename T>
__global__ void __launch_bounds__(kElementwiseBlock)
    unary(UnaryOp op, ActivationParams act, int64_t count, const T* __restrict__ x, T* __restrict__ y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    y[i] = from_f32<T>(unary_op_apply(op, act, to_f32(x[i])));
}

template <typename T>
__global__ void __launch_bounds__(kElementwiseBlock)
    binary_same_shape(BinaryOp op, int64_t count, const T* __restrict__ a, const T* __restrict__ b,
                      T* __restrict__ y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    y[i] = from_f32<T>(binary_op_apply(op, to_f32(a[i]), to_f32(b[i])));
}

// a_count / b_count: the operands' element counts, to bound every load.
template <typename T>
__global__ void __launch_bounds__(kElementwiseBlock)
    binary_broadcast(BinaryOp op, BroadcastIndexer ix, int64_t count, const T* __restrict__ a, int64_t a_count,
                     const T* __restrict__ b, int64_t b_count, T* __restrict__ y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    int64_t oa = 0, ob = 0;
    ix.offsets(i, oa, ob);
    if (oa < a_count && ob < b_count) y[i] = from_f32<T>(binary_op_apply(op, to_f32(a[oa]), to_f32(b[ob])));
  }
}

template <typename T>
__global__ void __launch_bounds__(kElementwiseBlock)
    channel_affine(int64_t count, int c, int64_t inner, const T* __restrict__ x, const T* __restrict__ scale,
                   const T* __restrict__ shift, ActivationParams act, T* __restrict__ y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const int64_t ch = channel_affine_channel(i, c, inner);
    // __fmul_rn / __fadd_rn: never contracted into an FMA, so the rounding matches the CPU reference.
    const float v = __fadd_rn(__fmul_rn(to_f32(x[i]), to_f32(scale[ch])), to_f32(shift[ch]));
    y[i] = from_f32<T>(apply_activation(act, v));
  }
}

dim3 to_dim3(const Dim3& d) { return dim3(d.x, d.y, d.z); }

int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) throw std::invalid_argument("elementwise: negative dim");
    count *= d;
  }
  return count;
}

}  // namespace

template <typename T>
void unary_cuda(UnaryOp op, ActivationParams act, int64_t count, const T* x, T* y, cudaStream_t stream) {
  if (count < 0) throw std::invalid_argument("unary_cuda: negative count");
  const LaunchGeometry g = unary_launch(count, precision_of<T>());
  if (count == 0 || g.grid.x == 0) return;
  unary<T><<<to_dim3(g.grid), to_dim3(g.block), g.shared_bytes, stream>>>(op, act, count, x, y);
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void binary_cuda(BinaryOp op, const std::vector<int64_t>& a_shape, const T* a, const std::vector<int64_t>& b_shape,
                 const T* b, const std::vector<int64_t>& out_shape, T* y, cudaStream_t stream) {
  // Validates the shapes (rank <= 8, each operand broadcasts to out_shape) before anything runs.
  const BroadcastIndexer ix = make_broadcast_indexer(a_shape, b_shape, out_shape);
  const int64_t count = element_count(out_shape);
  const int64_t a_count = element_count(a_shape), b_count = element_count(b_shape);
  const LaunchGeometry g = binary_launch(a_shape, b_shape, out_shape, precision_of<T>());
  if (count == 0 || g.grid.x == 0) return;
  if (a_shape == out_shape && b_shape == out_shape) {
    binary_same_shape<T><<<to_dim3(g.grid), to_dim3(g.block), g.shared_bytes, stream>>>(op, count, a, b, y);
  } else {
    binary_broadcast<T><<<to_dim3(g.grid), to_dim3(g.block), g.shared_bytes, stream>>>(op, ix, count, a, a_count, b,
                                                                                        b_count, y);
  }
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void channel_affine_cuda(int n, int c, int64_t inner, const T* x, const T* scale, const T* shift,
                         ActivationParams act, T* y, cudaStream_t stream) {
  if (n < 0 || c < 0 || inner < 0) throw std::invalid_argument("channel_affine_cuda: negative size");
  const int64_t count = int64_t(n) * c * inner;
  const LaunchGeometry g = channel_affine_launch(n, c, inner, precision_of<T>());
  if (count == 0 || g.grid.x == 0) return;
  channel_affine<T><<<to_dim3(g.grid), to_dim3(g.block), g.shared_bytes, stream>>>(count, c, inner, x, scale, shift,
                                                                                   act, y);
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

#define DSTACK_INSTANTIATE_ELEMENTWISE(T)                                                                           \
  template void unary_cuda<T>(UnaryOp, ActivationParams, int64_t, const T*, T*, cudaStream_t);                       \
  template void binary_cuda<T>(BinaryOp, const std::vector<int64_t>&, const T*, const std::vector<int64_t>&, const T*, \
                               const std::vector<int64_t>&, T*, cudaStream_t);                                       \
  template void channel_affine_cuda<T>(int, int, int64_t, const T*, const T*, const T*, ActivationParams, T*,        \
                                       cudaStream_t);
DSTACK_INSTANTIATE_FOR_STORAGE_TYPES(DSTACK_INSTANTIATE_ELEMENTWISE)
#undef DSTACK_INSTANTIATE_ELEMENTWISE

}  // namespace dstack::kernels
