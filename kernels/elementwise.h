#pragma once
// Elementwise layers: activations and unary math, binary ops with NumPy broadcasting, and the
// per-channel affine of a batch-norm that could not be folded into a convolution.
#include <cstdint>
#include <string_view>
#include <vector>

#include "kernels/activation.h"

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

}  // namespace dstack::kernels
