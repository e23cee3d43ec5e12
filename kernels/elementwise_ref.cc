// CPU reference elementwise layers: unary math, binary ops with NumPy broadcasting, channel affine.
#include <algorithm>
#include <cmath>
#include <utility>

#include "kernels/elementwise.h"

namespace dstack::kernels {

std::string_view unary_op_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Activation: return "activation";
    case UnaryOp::Erf: return "erf";
    case UnaryOp::Sqrt: return "sqrt";
    case UnaryOp::Neg: return "neg";
    case UnaryOp::Reciprocal: return "reciprocal";
    case UnaryOp::Exp: return "exp";
  }
  return "unknown";
}

std::string_view binary_op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
    case BinaryOp::Pow: return "pow";
  }
  return "unknown";
}

namespace {

float apply_unary(UnaryOp op, const ActivationParams& act, float x) {
  switch (op) {
    case UnaryOp::Activation: return apply_activation(act, x);
    case UnaryOp::Erf: return std::erf(x);
    case UnaryOp::Sqrt: return std::sqrt(x);
    case UnaryOp::Neg: return -x;
    case UnaryOp::Reciprocal: return 1.f / x;
    case UnaryOp::Exp: return std::exp(x);
  }
  return x;
}

float apply_binary(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
    case BinaryOp::Pow: return std::pow(a, b);
  }
  return a;
}

// Element strides of `shape` seen through the broadcast to out_shape: right-aligned, and 0 along
// a dim that is missing or 1 (the same element repeats along it).
std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& shape, const std::vector<int64_t>& out_shape) {
  const size_t rank = out_shape.size(), lead = rank - shape.size();
  std::vector<int64_t> strides(rank, 0);
  int64_t stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[lead + d] = shape[d] == 1 ? 0 : stride;
    stride *= shape[d];
  }
  return strides;
}

int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  return count;
}

}  // namespace

void unary_ref(UnaryOp op, ActivationParams act, int64_t count, const float* x, float* y) {
  for (int64_t i = 0; i < count; ++i) y[i] = apply_unary(op, act, x[i]);
}

bool broadcast_shape(const std::vector<int64_t>& a, const std::vector<int64_t>& b, std::vector<int64_t>& out) {
  const size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> result(rank);
  for (size_t i = 0; i < rank; ++i) {  // i counts dims from the right
    const int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1) return false;
    result[rank - 1 - i] = da == 1 ? db : da;
  }
  out = std::move(result);
  return true;
}

void binary_ref(BinaryOp op, const std::vector<int64_t>& a_shape, const float* a, const std::vector<int64_t>& b_shape,
                const float* b, const std::vector<int64_t>& out_shape, float* y) {
  const int64_t total = element_count(out_shape);
  if (total == 0) return;
  if (a_shape == out_shape && b_shape == out_shape) {
    for (int64_t i = 0; i < total; ++i) y[i] = apply_binary(op, a[i], b[i]);
    return;
  }
  const size_t rank = out_shape.size();
  if (rank == 0) {  // two scalars
    y[0] = apply_binary(op, a[0], b[0]);
    return;
  }
  // Walk the output in order: the innermost dim is a strided loop, the outer dims an odometer.
  const std::vector<int64_t> sa = broadcast_strides(a_shape, out_shape);
  const std::vector<int64_t> sb = broadcast_strides(b_shape, out_shape);
  const int64_t inner = out_shape[rank - 1], inner_sa = sa[rank - 1], inner_sb = sb[rank - 1];
  std::vector<int64_t> index(rank, 0);
  int64_t off_a = 0, off_b = 0;
  for (int64_t row = 0; row < total / inner; ++row) {
    float* y_row = y + row * inner;
    for (int64_t i = 0; i < inner; ++i) y_row[i] = apply_binary(op, a[off_a + i * inner_sa], b[off_b + i * inner_sb]);
    for (size_t d = rank - 1; d-- > 0;) {  // dims rank-2 .. 0
      off_a += sa[d];
      off_b += sb[d];
      if (++index[d] < out_shape[d]) break;
      off_a -= sa[d] * out_shape[d];
      off_b -= sb[d] * out_shape[d];
      index[d] = 0;
    }
  }
}

void channel_affine_ref(int n, int c, int64_t inner, const float* x, const float* scale, const float* shift,
                        ActivationParams act, float* y) {
  for (int img = 0; img < n; ++img) {
    for (int ch = 0; ch < c; ++ch) {
      const int64_t base = (int64_t(img) * c + ch) * inner;
      for (int64_t i = 0; i < inner; ++i) y[base + i] = apply_activation(act, x[base + i] * scale[ch] + shift[ch]);
    }
  }
}

}  // namespace dstack::kernels
