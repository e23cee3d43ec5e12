// CUDA elementwise layers: unary math, binary ops with NumPy broadcasting, channel affine. Each is
// a grid-stride loop over the output; geometry from kernels/elementwise.h.
#include <stdexcept>

#include "kernels/elementwise_cuda.h"
#include "runtime/backend/cuda/check.h"

namespace dstack::kernels {
namespace {

__global__ void __launch_bounds__(kElementwiseBlock)
    unary_f32(UnaryOp op, ActivationParams act, int64_t count, const float* __restrict__ x, float* __restrict__ y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    y[i] = unary_op_apply(op, act, x[i]);
}

__global__ void __launch_bounds__(kElementwiseBlock)
    binary_same_shape_f32(BinaryOp op, int64_t count, const float* __restrict__ a, const float* __restrict__ b,
                          float* __restrict__ y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    y[i] = binary_op_apply(op, a[i], b[i]);
}

// a_count / b_count: the operands' element counts, to bound every load.
__global__ void __launch_bounds__(kElementwiseBlock)
    binary_broadcast_f32(BinaryOp op, BroadcastIndexer ix, int64_t count, const float* __restrict__ a, int64_t a_count,
                         const float* __restrict__ b, int64_t b_count, float* __restrict__ y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    int64_t oa = 0, ob = 0;
    ix.offsets(i, oa, ob);
    if (oa < a_count && ob < b_count) y[i] = binary_op_apply(op, a[oa], b[ob]);
  }
}

__global__ void __launch_bounds__(kElementwiseBlock)
    channel_affine_f32(int64_t count, int c, int64_t inner, const float* __restrict__ x,
                       const float* __restrict__ scale, const float* __restrict__ shift, ActivationParams act,
                       float* __restrict__ y) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const int64_t ch = channel_affine_channel(i, c, inner);
    // __fmul_rn / __fadd_rn: never contracted into an FMA, so the rounding matches the CPU reference.
    y[i] = apply_activation(act, __fadd_rn(__fmul_rn(x[i], scale[ch]), shift[ch]));
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

void unary_cuda(UnaryOp op, ActivationParams act, int64_t count, const float* x, float* y, cudaStream_t stream) {
  if (count < 0) throw std::invalid_argument("unary_cuda: negative count");
  const LaunchGeometry g = unary_launch(count);
  if (count == 0 || g.grid.x == 0) return;
  unary_f32<<<to_dim3(g.grid), to_dim3(g.block), g.shared_bytes, stream>>>(op, act, count, x, y);
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

void binary_cuda(BinaryOp op, const std::vector<int64_t>& a_shape, const float* a, const std::vector<int64_t>& b_shape,
                 const float* b, const std::vector<int64_t>& out_shape, float* y, cudaStream_t stream) {
  // Validates the shapes (rank <= 8, each operand broadcasts to out_shape) before anything runs.
  const BroadcastIndexer ix = make_broadcast_indexer(a_shape, b_shape, out_shape);
  const int64_t count = element_count(out_shape);
  const int64_t a_count = element_count(a_shape), b_count = element_count(b_shape);
  const LaunchGeometry g = binary_launch(a_shape, b_shape, out_shape);
  if (count == 0 || g.grid.x == 0) return;
  if (a_shape == out_shape && b_shape == out_shape) {
    binary_same_shape_f32<<<to_dim3(g.grid), to_dim3(g.block), g.shared_bytes, stream>>>(op, count, a, b, y);
  } else {
    binary_broadcast_f32<<<to_dim3(g.grid), to_dim3(g.block), g.shared_bytes, stream>>>(op, ix, count, a, a_count, b,
                                                                                         b_count, y);
  }
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

void channel_affine_cuda(int n, int c, int64_t inner, const float* x, const float* scale, const float* shift,
                         ActivationParams act, float* y, cudaStream_t stream) {
  if (n < 0 || c < 0 || inner < 0) throw std::invalid_argument("channel_affine_cuda: negative size");
  const int64_t count = int64_t(n) * c * inner;
  const LaunchGeometry g = channel_affine_launch(n, c, inner);
  if (count == 0 || g.grid.x == 0) return;
  channel_affine_f32<<<to_dim3(g.grid), to_dim3(g.block), g.shared_bytes, stream>>>(count, c, inner, x, scale, shift,
                                                                                    act, y);
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace dstack::kernels
