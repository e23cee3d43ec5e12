#include "models/onnx/static_tensor.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace dstack::models::onnx_import {

std::string to_string(SymInt s) {
  if (s.known()) return std::to_string(s.value);
  std::string b = s.batch == 1 ? "B" : fmt::format("{}*B", s.batch);
  if (s.value == 0) return b;
  return s.value > 0 ? fmt::format("{}+{}", b, s.value) : fmt::format("{}{}", b, s.value);
}

StaticTensor StaticTensor::floats(Shape shape, std::vector<float> data) {
  StaticTensor t;
  t.type = ElemType::Float;
  t.shape = std::move(shape);
  t.f = std::move(data);
  if (t.size() != static_cast<int64_t>(t.f.size()))
    throw StaticError(fmt::format("{} values for shape {}", t.f.size(), shape_str(t.shape)));
  return t;
}

StaticTensor StaticTensor::ints(Shape shape, std::vector<SymInt> data) {
  StaticTensor t;
  t.type = ElemType::Int;
  t.shape = std::move(shape);
  t.i = std::move(data);
  if (t.size() != static_cast<int64_t>(t.i.size()))
    throw StaticError(fmt::format("{} values for shape {}", t.i.size(), shape_str(t.shape)));
  return t;
}

StaticTensor StaticTensor::known_ints(Shape shape, const std::vector<int64_t>& data) {
  std::vector<SymInt> v;
  v.reserve(data.size());
  for (int64_t x : data) v.push_back(SymInt{0, x});
  return ints(std::move(shape), std::move(v));
}

std::string describe(const StaticTensor& t) {
  std::string kind = t.type == ElemType::Float ? "float" : "int";
  if (t.size() > 8) return fmt::format("{} {}", kind, shape_str(t.shape));
  std::vector<std::string> vals;
  if (t.type == ElemType::Float)
    for (float x : t.f) vals.push_back(fmt::format("{}", x));
  else
    for (SymInt x : t.i) vals.push_back(to_string(x));
  return fmt::format("{} {} = {{{}}}", kind, shape_str(t.shape), fmt::join(vals, ", "));
}

std::vector<int64_t> known_ints(const StaticTensor& t) {
  if (t.type == ElemType::Float) {
    std::vector<int64_t> out;
    for (float x : t.f) {
      if (x != std::trunc(x)) throw StaticError(fmt::format("expected integers, got {}", describe(t)));
      out.push_back(static_cast<int64_t>(x));
    }
    return out;
  }
  std::vector<int64_t> out;
  out.reserve(t.i.size());
  for (SymInt x : t.i) {
    if (!x.known())
      throw StaticError(fmt::format("needs a value that depends on the batch size: {}", describe(t)));
    out.push_back(x.value);
  }
  return out;
}

std::vector<float> as_floats(const StaticTensor& t) {
  if (t.type == ElemType::Float) return t.f;
  std::vector<float> out;
  for (int64_t x : known_ints(t)) out.push_back(static_cast<float>(x));
  return out;
}

int normalize_axis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    throw StaticError(fmt::format("axis {} is out of range for rank {}", axis, rank));
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

std::vector<int64_t> slice_indices(int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (step == 0) throw StaticError("slice step 0");
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  std::vector<int64_t> out;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    for (int64_t i = start; i < end; i += step) out.push_back(i);
  } else {
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    for (int64_t i = start; i > end; i += step) out.push_back(i);
  }
  return out;
}

int64_t checked_static_count(const Shape& shape, const std::string& what) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) throw StaticError(fmt::format("{} has a negative dim: {}", what, shape_str(shape)));
    if (d != 0 && count > kMaxStaticElements / d)
      throw StaticError(fmt::format("{} {} has more than {} elements, more than a model's constants ever need",
                                    what, shape_str(shape), kMaxStaticElements));
    count *= d;
  }
  return count;
}

namespace {

// Row-major strides of `shape` as seen from `out` after right-aligned broadcasting (0 where the
// dim is missing or 1).
std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  int64_t stride = 1;
  const size_t lead = out.size() - shape.size();
  for (size_t d = shape.size(); d-- > 0;) {
    strides[lead + d] = shape[d] == 1 ? 0 : stride;
    stride *= shape[d];
  }
  return strides;
}

// Calls fn(out_index, a_index, b_index) over the broadcast of a and b.
template <typename Fn>
Shape for_each_broadcast(const Shape& a, const Shape& b, Fn fn) {
  Shape out;
  if (!kernels::broadcast_shape(a, b, out))
    throw StaticError(fmt::format("shapes {} and {} do not broadcast", shape_str(a), shape_str(b)));
  const int64_t count = checked_static_count(out, "the broadcast result");
  std::vector<int64_t> sa = broadcast_strides(a, out), sb = broadcast_strides(b, out);
  std::vector<int64_t> idx(out.size(), 0);
  int64_t ia = 0, ib = 0;
  for (int64_t o = 0; o < count; ++o) {
    fn(o, ia, ib);
    for (size_t d = out.size(); d-- > 0;) {  // odometer step, keeping the operand offsets in sync
      ++idx[d];
      ia += sa[d];
      ib += sb[d];
      if (idx[d] < out[d]) break;
      ia -= sa[d] * out[d];
      ib -= sb[d] * out[d];
      idx[d] = 0;
    }
  }
  return out;
}

// Integer shape arithmetic in int64, as ONNX defines it; a result past int64 is a malformed model
// (found by fuzzing: the overflow itself is undefined behaviour).
int64_t checked(bool overflowed, int64_t r, const SymInt& a, kernels::BinaryOp op, const SymInt& b) {
  if (overflowed)
    throw StaticError(fmt::format("{} {} {} overflows int64 while loading", to_string(a), kernels::binary_op_name(op),
                                  to_string(b)));
  return r;
}

SymInt int_binary(kernels::BinaryOp op, SymInt a, SymInt b) {
  using kernels::BinaryOp;
  int64_t r = 0, rb = 0;
  switch (op) {
    case BinaryOp::Add: {
      const bool over_batch = __builtin_add_overflow(a.batch, b.batch, &rb);
      const bool over_value = __builtin_add_overflow(a.value, b.value, &r);
      return {checked(over_batch || over_value, rb, a, op, b), r};
    }
    case BinaryOp::Sub: {
      const bool over_batch = __builtin_sub_overflow(a.batch, b.batch, &rb);
      const bool over_value = __builtin_sub_overflow(a.value, b.value, &r);
      return {checked(over_batch || over_value, rb, a, op, b), r};
    }
    case BinaryOp::Mul:
      if (!a.known()) std::swap(a, b);
      if (a.known()) {
        const bool over_batch = __builtin_mul_overflow(a.value, b.batch, &rb);
        const bool over_value = __builtin_mul_overflow(a.value, b.value, &r);
        return {checked(over_batch || over_value, rb, a, op, b), r};
      }
      break;
    case BinaryOp::Div:
      if (!b.known() || b.value == 0) break;
      if (b.value == -1 && (a.value == INT64_MIN || a.batch == INT64_MIN)) checked(true, 0, a, op, b);
      if (a.known()) return {0, a.value / b.value};  // ONNX integer division truncates
      if (a.batch % b.value == 0 && a.value % b.value == 0) return {a.batch / b.value, a.value / b.value};
      break;
    case BinaryOp::Pow:
      if (a.known() && b.known() && b.value >= 0) {
        // 0, 1 and -1 never overflow, so any exponent is answered without a loop of that length;
        // any other base overflows within 64 steps.
        if (a.value == 0) return {0, b.value == 0 ? 1 : 0};
        if (a.value == 1) return {0, 1};
        if (a.value == -1) return {0, b.value % 2 == 0 ? 1 : -1};
        r = 1;
        for (int64_t k = 0; k < b.value; ++k) {
          int64_t next = 0;
          if (__builtin_mul_overflow(r, a.value, &next)) checked(true, 0, a, op, b);
          r = next;
        }
        return {0, r};
      }
      break;
  }
  throw StaticError(fmt::format("cannot compute {} {} {} while loading: it depends on the batch size",
                                to_string(a), kernels::binary_op_name(op), to_string(b)));
}

float float_binary(kernels::BinaryOp op, float a, float b) {
  using kernels::BinaryOp;
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
    case BinaryOp::Pow: return std::pow(a, b);
  }
  return a;
}

std::vector<int64_t> row_strides(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t d = shape.size(); d-- > 1;) s[d - 1] = s[d] * shape[d];
  return s;
}

// Copies elements of `x` at the given flat positions into a tensor of `shape`.
StaticTensor pick(const StaticTensor& x, Shape shape, const std::vector<int64_t>& positions) {
  if (x.type == ElemType::Float) {
    std::vector<float> out;
    out.reserve(positions.size());
    for (int64_t p : positions) out.push_back(x.f[static_cast<size_t>(p)]);
    return StaticTensor::floats(std::move(shape), std::move(out));
  }
  std::vector<SymInt> out;
  out.reserve(positions.size());
  for (int64_t p : positions) out.push_back(x.i[static_cast<size_t>(p)]);
  return StaticTensor::ints(std::move(shape), std::move(out));
}

}  // namespace

StaticTensor static_binary(kernels::BinaryOp op, const StaticTensor& a, const StaticTensor& b) {
  if (a.type != b.type) throw StaticError(fmt::format("operands differ in type: {} and {}", describe(a), describe(b)));
  if (a.type == ElemType::Float) {
    std::vector<float> out;
    Shape shape = for_each_broadcast(a.shape, b.shape, [&](int64_t, int64_t ia, int64_t ib) {
      out.push_back(float_binary(op, a.f[static_cast<size_t>(ia)], b.f[static_cast<size_t>(ib)]));
    });
    return StaticTensor::floats(shape, std::move(out));
  }
  std::vector<SymInt> out;
  Shape shape = for_each_broadcast(a.shape, b.shape, [&](int64_t, int64_t ia, int64_t ib) {
    out.push_back(int_binary(op, a.i[static_cast<size_t>(ia)], b.i[static_cast<size_t>(ib)]));
  });
  return StaticTensor::ints(shape, std::move(out));
}

StaticTensor static_unary(kernels::UnaryOp op, const kernels::ActivationParams& act, const StaticTensor& x) {
  if (x.type == ElemType::Int) {
    if (op != kernels::UnaryOp::Neg) throw StaticError("only Neg of integer constants is evaluated while loading");
    std::vector<SymInt> out;
    for (SymInt v : x.i) out.push_back({-v.batch, -v.value});
    return StaticTensor::ints(x.shape, std::move(out));
  }
  std::vector<float> out(x.f.size());
  kernels::unary_ref(op, act, x.size(), x.f.data(), out.data());
  return StaticTensor::floats(x.shape, std::move(out));
}

StaticTensor static_cast_to(const StaticTensor& x, ElemType type, bool to_bool) {
  if (type == ElemType::Float) return StaticTensor::floats(x.shape, as_floats(x));
  std::vector<SymInt> out;
  if (x.type == ElemType::Float) {
    for (float v : x.f) out.push_back(SymInt{0, to_bool ? int64_t{v != 0.f} : static_cast<int64_t>(std::trunc(v))});
  } else if (to_bool) {
    for (int64_t v : known_ints(x)) out.push_back(SymInt{0, int64_t{v != 0}});
  } else {
    out = x.i;
  }
  return StaticTensor::ints(x.shape, std::move(out));
}

StaticTensor static_gather(const StaticTensor& x, int axis, const std::vector<int64_t>& indices,
                           const Shape& indices_shape) {
  if (axis < 0 || axis >= static_cast<int>(x.shape.size()))
    throw StaticError(fmt::format("gather axis {} out of range for shape {}", axis, shape_str(x.shape)));
  const auto ax = static_cast<size_t>(axis);
  const int64_t dim = x.shape[ax];
  const int64_t outer = num_elements(Shape(x.shape.begin(), x.shape.begin() + axis));
  const int64_t inner = num_elements(Shape(x.shape.begin() + axis + 1, x.shape.end()));
  std::vector<int64_t> positions;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t idx : indices) {
      int64_t k = idx < 0 ? idx + dim : idx;
      if (k < 0 || k >= dim) throw StaticError(fmt::format("index {} out of range for a dim of {}", idx, dim));
      for (int64_t in = 0; in < inner; ++in) positions.push_back((o * dim + k) * inner + in);
    }
  Shape shape(x.shape.begin(), x.shape.begin() + axis);
  shape.insert(shape.end(), indices_shape.begin(), indices_shape.end());
  shape.insert(shape.end(), x.shape.begin() + axis + 1, x.shape.end());
  return pick(x, shape, positions);
}

StaticTensor static_concat(const std::vector<const StaticTensor*>& xs, int axis) {
  if (xs.empty()) throw StaticError("concat of nothing");
  const StaticTensor& first = *xs[0];
  if (axis < 0 || axis >= static_cast<int>(first.shape.size())) throw StaticError("concat axis out of range");
  const auto ax = static_cast<size_t>(axis);
  Shape shape = first.shape;
  shape[ax] = 0;
  for (const StaticTensor* x : xs) {
    if (x->type != first.type) throw StaticError("concat of tensors of different types");
    if (x->shape.size() != first.shape.size()) throw StaticError("concat of tensors of different ranks");
    for (size_t d = 0; d < shape.size(); ++d)
      if (d != ax && x->shape[d] != first.shape[d])
        throw StaticError(fmt::format("concat of {} and {}", shape_str(first.shape), shape_str(x->shape)));
    shape[ax] += x->shape[ax];
  }
  const int64_t outer = num_elements(Shape(first.shape.begin(), first.shape.begin() + axis));
  StaticTensor out;
  out.type = first.type;
  out.shape = shape;
  for (int64_t o = 0; o < outer; ++o)
    for (const StaticTensor* x : xs) {
      const int64_t chunk = num_elements(Shape(x->shape.begin() + axis, x->shape.end()));
      const auto begin = static_cast<size_t>(o * chunk), end = static_cast<size_t>((o + 1) * chunk);
      if (x->type == ElemType::Float)
        out.f.insert(out.f.end(), x->f.begin() + static_cast<std::ptrdiff_t>(begin), x->f.begin() + static_cast<std::ptrdiff_t>(end));
      else
        out.i.insert(out.i.end(), x->i.begin() + static_cast<std::ptrdiff_t>(begin), x->i.begin() + static_cast<std::ptrdiff_t>(end));
    }
  return out;
}

StaticTensor static_transpose(const StaticTensor& x, const std::vector<int>& perm) {
  const size_t rank = x.shape.size();
  std::vector<int> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int> iota(rank);
  std::iota(iota.begin(), iota.end(), 0);
  if (sorted != iota) throw StaticError(fmt::format("perm {} is not a permutation of rank {}", perm, rank));
  Shape shape;
  for (int p : perm) shape.push_back(x.shape[static_cast<size_t>(p)]);
  std::vector<int64_t> in_strides = row_strides(x.shape);
  std::vector<int64_t> positions;
  std::vector<int64_t> idx(rank, 0);
  const int64_t count = x.size();
  for (int64_t o = 0; o < count; ++o) {
    int64_t p = 0;
    for (size_t d = 0; d < rank; ++d) p += idx[d] * in_strides[static_cast<size_t>(perm[d])];
    positions.push_back(p);
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return pick(x, shape, positions);
}

StaticTensor static_reshape(const StaticTensor& x, Shape shape) {
  if (num_elements(shape) != x.size())
    throw StaticError(fmt::format("cannot reshape {} to {}", shape_str(x.shape), shape_str(shape)));
  StaticTensor out = x;
  out.shape = std::move(shape);
  return out;
}

}  // namespace dstack::models::onnx_import
