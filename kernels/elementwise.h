#pragma once
// Elementwise layers: activations and unary math, binary ops with NumPy broadcasting, and the
// per-channel affine of a batch-norm that could not be folded into a convolution.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/activation.h"
#include "kernels/host_device.h"
#include "kernels/launch.h"
#include "kernels/precision.h"

namespace dstack::kernels {

enum class UnaryOp { Activation, Erf, Sqrt, Neg, Reciprocal, Exp };
enum class BinaryOp { Add, Sub, Mul, Div, Pow };

std::string_view unary_op_name(UnaryOp op);
std::string_view binary_op_name(BinaryOp op);

// y[i] = f(x[i]); `act` is used when op == Activation.
void unary_ref(UnaryOp op, ActivationParams act, int64_t count, const float* x, float* y);

// NumPy broadcasting of a_shape and b_shape to out_shape (right-aligned; each dim equal or 1).
// Returns false (and writes nothing) if the shapes do not broadcast.
bool broadcast_shape(const std::vector<int64_t>& a, const std::vector<int64_t>& b, std::vector<int64_t>& out);
void binary_ref(BinaryOp op, const std::vector<int64_t>& a_shape, const float* a, const std::vector<int64_t>& b_shape,
                const float* b, const std::vector<int64_t>& out_shape, float* y);

// y[n, c, i] = x[n, c, i] * scale[c] + shift[c], then act.
void channel_affine_ref(int n, int c, int64_t inner, const float* x, const float* scale, const float* shift,
                        ActivationParams act, float* y);

// ---- CUDA side: launch geometry and index math (CPU-computable; the launchers in elementwise.cu
// use exactly these). Every elementwise kernel is a grid-stride loop over output elements.

inline constexpr unsigned kElementwiseBlock = 256;
inline constexpr unsigned kElementwiseGridCap = 4096;  // blocks; a grid-stride loop covers the rest
inline constexpr int kElementwiseMaxRank = 8;           // broadcast shapes travel in a fixed-size struct

// Block of 256 threads, grid = min(ceil(count / 256), cap). grid.x == 0 (count <= 0): no launch.
// Every kernel is a template over the storage type: `kernel` is its base name, the geometry reports
// e.g. "unary<__half>". Math runs in fp32 at every precision, rounded once on store.
inline LaunchGeometry elementwise_grid_stride_launch(const char* kernel, int64_t count, Precision p) {
  return grid_stride_launch(typed_kernel_name(kernel, p).c_str(), count, kElementwiseBlock, kElementwiseGridCap);
}

inline LaunchGeometry unary_launch(int64_t count, Precision p = Precision::F32) {
  return elementwise_grid_stride_launch("unary", count, p);
}

// Same-shape operands use a plain kernel; anything broadcast uses the indexed one.
inline LaunchGeometry binary_launch(const std::vector<int64_t>& a_shape, const std::vector<int64_t>& b_shape,
                                    const std::vector<int64_t>& out_shape, Precision p = Precision::F32) {
  int64_t count = 1;
  for (int64_t d : out_shape) count *= d;
  const bool same = a_shape == out_shape && b_shape == out_shape;
  return elementwise_grid_stride_launch(same ? "binary_same_shape" : "binary_broadcast", count, p);
}

inline LaunchGeometry channel_affine_launch(int n, int c, int64_t inner, Precision p = Precision::F32) {
  return elementwise_grid_stride_launch("channel_affine", int64_t(n) * c * inner, p);
}

// The unary and binary math, shared by the kernels (the CPU reference has its own copy, which the
// launch tests check these against bit for bit on the CPU).
DSTACK_HD float unary_op_apply(UnaryOp op, const ActivationParams& act, float x) {
  switch (op) {
    case UnaryOp::Activation: return apply_activation(act, x);
    case UnaryOp::Erf: return erff(x);
    case UnaryOp::Sqrt: return sqrtf(x);
    case UnaryOp::Neg: return -x;
    case UnaryOp::Reciprocal: return 1.f / x;
    case UnaryOp::Exp: return expf(x);
  }
  return x;
}

DSTACK_HD float binary_op_apply(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
    case BinaryOp::Pow: return powf(a, b);
  }
  return a;
}

// Channel of flat element i of an [n, c, inner] tensor (inner >= 1, c >= 1).
DSTACK_HD int64_t channel_affine_channel(int64_t i, int c, int64_t inner) { return (i / inner) % c; }

// Output flat index -> the two operands' element offsets under NumPy broadcasting. Dims are the
// output's (left-aligned, `rank` of them); an operand's stride is 0 along a dim it broadcasts.
struct BroadcastIndexer {
  int rank = 0;
  int64_t out_dims[kElementwiseMaxRank] = {};
  int64_t a_strides[kElementwiseMaxRank] = {};
  int64_t b_strides[kElementwiseMaxRank] = {};

  // `linear` in [0, product(out_dims)); every out dim >= 1 then.
  DSTACK_HD void offsets(int64_t linear, int64_t& off_a, int64_t& off_b) const {
    int64_t oa = 0, ob = 0;
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
    for (int d = kElementwiseMaxRank - 1; d >= 0; --d) {
      if (d < rank) {
        const int64_t i = linear % out_dims[d];
        linear /= out_dims[d];
        oa += i * a_strides[d];
        ob += i * b_strides[d];
      }
    }
    off_a = oa;
    off_b = ob;
  }
};

// Builds the indexer; throws std::invalid_argument when out_shape has more than 8 dims or an
// operand does not broadcast to out_shape (more dims than it, or a dim neither 1 nor the output's).
inline BroadcastIndexer make_broadcast_indexer(const std::vector<int64_t>& a_shape, const std::vector<int64_t>& b_shape,
                                               const std::vector<int64_t>& out_shape) {
  if (out_shape.size() > size_t(kElementwiseMaxRank))
    throw std::invalid_argument("binary: output rank " + std::to_string(out_shape.size()) +
                                " exceeds the CUDA kernel's maximum of 8");
  BroadcastIndexer ix;
  ix.rank = static_cast<int>(out_shape.size());
  for (size_t d = 0; d < out_shape.size(); ++d) {
    if (out_shape[d] < 0) throw std::invalid_argument("binary: negative output dim");
    ix.out_dims[d] = out_shape[d];
  }
  auto fill = [&](const std::vector<int64_t>& shape, int64_t* strides, const char* which) {
    if (shape.size() > out_shape.size())
      throw std::invalid_argument(std::string("binary: operand ") + which + " has more dims than the output");
    const size_t lead = out_shape.size() - shape.size();
    int64_t stride = 1;
    for (size_t d = shape.size(); d-- > 0;) {
      if (shape[d] != 1 && shape[d] != out_shape[lead + d])
        throw std::invalid_argument(std::string("binary: operand ") + which + " does not broadcast to the output");
      strides[lead + d] = shape[d] == 1 ? 0 : stride;
      stride *= shape[d];
    }
  };
  fill(a_shape, ix.a_strides, "a");
  fill(b_shape, ix.b_strides, "b");
  return ix;
}

}  // namespace dstack::kernels
