#include "runtime/backend/cuda/vendor_coverage.h"

#include <fmt/format.h>

#include <climits>

#include "models/node_args.h"

namespace dstack::vendor {
namespace {

using kernels::Activation;
using models::OpKind;
using models::Shape;

bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

void set_why(std::string* why, std::string text) {
  if (why) *why = std::move(text);
}

// cuDNN and cuBLAS index with int: every dimension and the element count must fit.
bool fits_int_tensor(const Shape& s) { return fits_int(models::num_elements(s)); }

std::string activation_gap(const kernels::ActivationParams& act) {
  if (vendor_activation(act)) return {};
  if (act.kind == Activation::Gelu) return "cuDNN has no exact (erf) GELU";
  return fmt::format("cuDNN's clipped ReLU clips at 0 from below, this Clip is [{}, {}]", act.clip_min, act.clip_max);
}

}  // namespace

std::optional<VendorActivation> vendor_activation(const kernels::ActivationParams& act) {
  switch (act.kind) {
    case Activation::None: return VendorActivation{ActivationMode::Identity};
    case Activation::Relu: return VendorActivation{ActivationMode::Relu};
    case Activation::Relu6: return VendorActivation{ActivationMode::ClippedRelu, 6.0};
    case Activation::Clip:
      if (act.clip_min == 0.f && act.clip_max > 0.f) return VendorActivation{ActivationMode::ClippedRelu, act.clip_max};
      return std::nullopt;
    case Activation::Sigmoid: return VendorActivation{ActivationMode::Sigmoid};
    case Activation::Silu: return VendorActivation{ActivationMode::Swish, 0.0, 1.0};
    case Activation::Tanh: return VendorActivation{ActivationMode::Tanh};
    case Activation::Gelu: return std::nullopt;
  }
  return std::nullopt;
}

std::optional<ConvParams> vendor_conv_params(const kernels::Conv2dShape& s, std::string* why) {
  if (const char* err = kernels::conv2d_shape_error(s)) {
    set_why(why, err);
    return std::nullopt;
  }
  if (s.pad_top != s.pad_bottom || s.pad_left != s.pad_right) {
    set_why(why, fmt::format("cuDNN pads symmetrically; this convolution pads top/bottom {}/{}, left/right {}/{}",
                             s.pad_top, s.pad_bottom, s.pad_left, s.pad_right));
    return std::nullopt;
  }
  if (!fits_int(int64_t(s.n) * s.c * s.h * s.w) || !fits_int(kernels::conv2d_output_count(s)) ||
      !fits_int(int64_t(s.k) * kernels::conv2d_gemm_reduction(s))) {
    set_why(why, "a tensor of this convolution has more than INT_MAX elements");
    return std::nullopt;
  }
  ConvParams p;
  p.pad_h = s.pad_top, p.pad_w = s.pad_left;
  p.stride_h = s.stride_h, p.stride_w = s.stride_w;
  p.dilation_h = s.dilation_h, p.dilation_w = s.dilation_w;
  p.groups = s.groups;
  p.x = {s.n, s.c, s.h, s.w};
  p.w = {s.k, s.c_per_group(), s.r, s.s};
  p.y = {s.n, s.k, s.out_h(), s.out_w()};
  return p;
}

std::optional<PoolParams> vendor_pool_params(const kernels::Pool2dShape& s, bool max, std::string* why) {
  if (const char* err = kernels::pool2d_shape_error(s)) {
    set_why(why, err);
    return std::nullopt;
  }
  if (s.pad_top != s.pad_bottom || s.pad_left != s.pad_right) {
    set_why(why, fmt::format("cuDNN pads symmetrically; this pooling pads top/bottom {}/{}, left/right {}/{}",
                             s.pad_top, s.pad_bottom, s.pad_left, s.pad_right));
    return std::nullopt;
  }
  const int floor_h = (s.h + 2 * s.pad_top - s.kernel_h) / s.stride_h + 1;
  const int floor_w = (s.w + 2 * s.pad_left - s.kernel_w) / s.stride_w + 1;
  if (floor_h != s.out_h() || floor_w != s.out_w()) {
    set_why(why, fmt::format("ceil_mode gives a {}x{} output, cuDNN's floor rule {}x{}", s.out_h(), s.out_w(), floor_h,
                             floor_w));
    return std::nullopt;
  }
  if (!fits_int(int64_t(s.n) * s.c * s.h * s.w)) {
    set_why(why, "the input has more than INT_MAX elements");
    return std::nullopt;
  }
  PoolParams p;
  p.mode = max ? PoolMode::Max : (s.count_include_pad ? PoolMode::AverageIncludePad : PoolMode::AverageExcludePad);
  p.window_h = s.kernel_h, p.window_w = s.kernel_w;
  p.pad_h = s.pad_top, p.pad_w = s.pad_left;
  p.stride_h = s.stride_h, p.stride_w = s.stride_w;
  p.x = {s.n, s.c, s.h, s.w};
  p.y = {s.n, s.c, s.out_h(), s.out_w()};
  return p;
}

std::optional<std::vector<int>> vendor_dims(const Shape& s) {
  if (s.size() > 5 || !fits_int_tensor(s)) return std::nullopt;
  std::vector<int> dims;
  for (int64_t d : s) {
    if (!fits_int(d)) return std::nullopt;
    dims.push_back(static_cast<int>(d));
  }
  while (dims.size() < 4) dims.push_back(1);
  return dims;
}

std::optional<BinaryParams> vendor_binary_params(kernels::BinaryOp op, const Shape& a_shape, const Shape& b_shape,
                                                 const Shape& out_shape, std::string* why) {
  if (op != kernels::BinaryOp::Add && op != kernels::BinaryOp::Sub && op != kernels::BinaryOp::Mul) {
    set_why(why, fmt::format("cuDNN's cudnnOpTensor has no {}", kernels::binary_op_name(op)));
    return std::nullopt;
  }
  // NumPy broadcasting aligns on the right: pad each operand with leading 1s to the output's rank.
  auto aligned = [&](const Shape& s) {
    Shape full(out_shape.size() - std::min(s.size(), out_shape.size()), 1);
    full.insert(full.end(), s.begin(), s.end());
    return full;
  };
  if (a_shape.size() > out_shape.size() || b_shape.size() > out_shape.size()) {
    set_why(why, "an operand has a higher rank than the output");
    return std::nullopt;
  }
  const Shape a = aligned(a_shape), b = aligned(b_shape);
  BinaryParams p;
  p.op = op == kernels::BinaryOp::Mul ? TensorOp::Mul : TensorOp::Add;
  if (a != out_shape) {
    if (b != out_shape) {
      set_why(why, fmt::format("cudnnOpTensor broadcasts one operand only; {} and {} both broadcast to {}",
                               models::shape_str(a_shape), models::shape_str(b_shape), models::shape_str(out_shape)));
      return std::nullopt;
    }
    p.swap = true;
  }
  const Shape& first = p.swap ? b : a;
  const Shape& second = p.swap ? a : b;
  if (op == kernels::BinaryOp::Sub) {
    // a - b as A + (-1) B, or with the operands swapped as (-1) A + B.
    p.alpha1 = p.swap ? -1.f : 1.f;
    p.alpha2 = p.swap ? 1.f : -1.f;
  }
  auto da = vendor_dims(first), db = vendor_dims(second), dc = vendor_dims(out_shape);
  if (!da || !db || !dc) {
    set_why(why, fmt::format("output {} has rank > 5 or more than INT_MAX elements", models::shape_str(out_shape)));
    return std::nullopt;
  }
  p.a = *da, p.b = *db, p.c = *dc;
  return p;
}

std::string vendor_gap(const models::Node& n, const std::vector<Shape>& in, const Shape& out) {
  const models::Attrs& a = n.attrs;
  std::string why;
  switch (n.op) {
    case OpKind::Conv2d: {
      if (!vendor_conv_params(models::conv2d_geometry(n, in[0], in[1]), &why)) return why;
      return activation_gap(a.act);
    }
    case OpKind::Linear: {
      const int64_t k = in[1][1], nout = in[1][0];
      const int64_t rows = models::num_elements(in[0]) / std::max<int64_t>(k, 1);
      if (!fits_int(rows) || !fits_int(k) || !fits_int(nout) || !fits_int(rows * nout))
        return "a GEMM dimension exceeds INT_MAX";
      return activation_gap(a.act);
    }
    case OpKind::MatMul: {
      const models::MatMulPlan p = models::matmul_plan(in[0], in[1], out);
      if (!fits_int(static_cast<int64_t>(p.offset_a.size()))) return "more than INT_MAX matrices in the batch";
      return {};
    }
    case OpKind::ChannelAffine: {
      const int64_t inner = models::num_elements(in[0]) / std::max<int64_t>(in[0][0] * in[0][1], 1);
      if (!vendor_dims(Shape{in[0][0], in[0][1], inner})) return "the input has more than INT_MAX elements";
      return activation_gap(a.act);
    }
    case OpKind::Unary:
      if (!vendor_dims(Shape{models::num_elements(out)})) return "the tensor has more than INT_MAX elements";
      switch (a.unary) {
        case kernels::UnaryOp::Activation: return activation_gap(a.act);
        case kernels::UnaryOp::Sqrt:
        case kernels::UnaryOp::Neg: return {};
        default: return fmt::format("cuDNN's legacy API has no elementwise {}", kernels::unary_op_name(a.unary));
      }
    case OpKind::Binary:
      if (!vendor_binary_params(a.binary, in[0], in[1], out, &why)) return why;
      return {};
    case OpKind::MaxPool:
    case OpKind::AvgPool:
      if (!vendor_pool_params(models::pool2d_geometry(n, in[0]), n.op == OpKind::MaxPool, &why)) return why;
      return {};
    case OpKind::GlobalAvgPool:
      if (!vendor_dims(Shape{in[0][0], in[0][1], in[0][2] * in[0][3]}))
        return "the input has more than INT_MAX elements";
      return {};
    case OpKind::Softmax: {
      const models::RowView v = models::last_axis_rows(out);
      if (!vendor_dims(Shape{v.rows, v.cols})) return "the tensor has more than INT_MAX elements";
      return {};
    }
    case OpKind::ReduceMean: {
      const models::ReduceView v = models::reduce_view(n, in[0]);
      if (!vendor_dims(Shape{v.outer, v.reduce, v.inner})) return "the input has more than INT_MAX elements";
      return {};
    }
    case OpKind::LayerNorm: return "cuDNN's legacy API has no layer norm";
    case OpKind::Concat:
    case OpKind::Reshape:
    case OpKind::Transpose:
    case OpKind::Slice:
    case OpKind::Pad:
    case OpKind::Gather:
    case OpKind::Embedding:
      return fmt::format("{} is data movement; neither cuDNN nor cuBLAS has a routine dstack does not",
                         models::op_name(n.op));
  }
  return fmt::format("no vendor routine for {}", models::op_name(n.op));
}

}  // namespace dstack::vendor
