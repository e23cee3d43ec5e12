#pragma once
// Which graph nodes the vendor libraries (cuDNN's legacy API, cuBLAS) compute exactly as dstack
// defines them, and the descriptor parameters they take. Pure CPU logic (no CUDA header), so the
// decision is tested everywhere; runtime/backend/cuda/vendor_ops.cc maps these onto cuDNN/cuBLAS.
//
// The rule: a node is covered only when the vendor result equals dstack's definition (up to float
// rounding). Where the vendor's semantics differ (GELU, asymmetric padding, ceil-mode pooling whose
// windows reach past the padding, broadcasting both operands, ...) the node is not covered and the
// caller runs dstack's own kernel instead.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "kernels/conv2d.h"
#include "kernels/elementwise.h"
#include "kernels/pooling.h"
#include "models/graph.h"

namespace dstack::vendor {

// cuDNN's activation modes, by name (vendor_ops.cc maps them to cudnnActivationMode_t).
enum class ActivationMode { Identity, Relu, ClippedRelu, Sigmoid, Tanh, Swish };

struct VendorActivation {
  ActivationMode mode = ActivationMode::Identity;
  double coef = 0.0;        // ClippedRelu: the ceiling (min(max(x, 0), coef))
  double swish_beta = 1.0;  // Swish: x * sigmoid(beta x); SiLU is beta = 1
};

// cuDNN's form of a fused activation, or nullopt where cuDNN has none: GELU (cuDNN's legacy API has
// no GELU, and cuBLASLt's epilogue is the tanh approximation, not dstack's erf GELU) and a Clip
// whose floor is not 0 (cuDNN's clipped ReLU clips at 0 from below).
std::optional<VendorActivation> vendor_activation(const kernels::ActivationParams& act);

// cudnnSetConvolution2dDescriptor + group count. cuDNN pads symmetrically only.
struct ConvParams {
  int pad_h = 0, pad_w = 0;
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;
  std::array<int, 4> x{}, w{}, y{};  // NCHW, KCRS (C per group), NKPQ
};
// nullopt (and *why set) for asymmetric padding or an invalid shape.
std::optional<ConvParams> vendor_conv_params(const kernels::Conv2dShape& s, std::string* why);

// cudnnSetPooling2dDescriptor. cuDNN's output size is floor((in + 2 pad - window) / stride) + 1.
enum class PoolMode { Max, AverageIncludePad, AverageExcludePad };
struct PoolParams {
  PoolMode mode = PoolMode::Max;
  int window_h = 1, window_w = 1;
  int pad_h = 0, pad_w = 0;
  int stride_h = 1, stride_w = 1;
  std::array<int, 4> x{}, y{};
};
// Covered when the padding is symmetric and cuDNN's floor output size equals dstack's (ONNX) size.
// Then every window lies inside the padded extent, so dstack's count_include_pad divisor (the window
// clipped to the padded extent) is the full window, as cuDNN's INCLUDE_PADDING divides by; without
// count_include_pad both divide by the in-bounds count (EXCLUDE_PADDING).
std::optional<PoolParams> vendor_pool_params(const kernels::Pool2dShape& s, bool max, std::string* why);

// cudnnOpTensor over one layout for A, B and C (rank 4 or 5; shorter shapes get trailing 1s).
// C = op(alpha1 * A, alpha2 * B): only B may broadcast (a dim of 1), so an Add/Mul whose first
// operand is the broadcast one swaps them, and Sub swaps with the signs (-b + a).
enum class TensorOp { Add, Mul };
struct BinaryParams {
  TensorOp op = TensorOp::Add;
  bool swap = false;  // A is the node's second input, B its first
  float alpha1 = 1.f, alpha2 = 1.f;
  std::vector<int> a, b, c;  // dims of A, B, C
};
std::optional<BinaryParams> vendor_binary_params(kernels::BinaryOp op, const models::Shape& a_shape,
                                                 const models::Shape& b_shape, const models::Shape& out_shape,
                                                 std::string* why);

// A shape (rank <= 5) as cuDNN tensor dims: trailing 1s up to rank 4, each dim in int range.
std::optional<std::vector<int>> vendor_dims(const models::Shape& s);

// Why the vendor libraries cannot run `n` exactly as dstack defines it, given its full input shapes
// and output shape; empty when they can (vendor_covers).
std::string vendor_gap(const models::Node& n, const std::vector<models::Shape>& in, const models::Shape& out);
inline bool vendor_covers(const models::Node& n, const std::vector<models::Shape>& in, const models::Shape& out) {
  return vendor_gap(n, in, out).empty();
}

}  // namespace dstack::vendor
