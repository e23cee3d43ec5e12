// Convolution (with batch-norm folding and epilogue fusion), batch-norm, pooling.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>

#include "kernels/conv2d.h"
#include "models/onnx/ops.h"

namespace dstack::models::onnx_import {

namespace {

// auto_pad: NOTSET (explicit pads) and VALID (no padding) mean fixed pads; SAME_* would make the
// padding depend on the input size, which no exporter we target emits for these models.
void check_auto_pad(Importer& im, std::vector<int64_t>& pads) {
  const std::string auto_pad = im.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "VALID") {
    pads.assign(4, 0);
  } else if (auto_pad != "NOTSET") {
    im.fail(fmt::format("unsupported attribute auto_pad={} (supported: NOTSET with explicit pads, VALID)", auto_pad));
  }
}

// strides / dilations / pads of a 2-D window op, checked.
std::vector<int64_t> pair_attr(Importer& im, std::string_view name, int64_t fallback) {
  std::vector<int64_t> v = im.attr_ints(name, {fallback, fallback});
  if (v.size() != 2) im.fail(fmt::format("attribute {} must have 2 values (2-D), has {}", name, v.size()));
  for (int64_t x : v)
    if (x < 1) im.fail(fmt::format("attribute {} must be positive, is {}", name, v));
  return v;
}

std::vector<int64_t> pads_attr(Importer& im) {
  std::vector<int64_t> pads = im.attr_ints("pads", {0, 0, 0, 0});
  if (pads.size() != 4) im.fail(fmt::format("attribute pads must have 4 values [top, left, bottom, right], has {}", pads.size()));
  for (int64_t p : pads)
    if (p < 0) im.fail(fmt::format("negative pads {} are not supported", pads));
  check_auto_pad(im, pads);
  return pads;
}

void set_window(Attrs& a, const std::vector<int64_t>& strides, const std::vector<int64_t>& pads) {
  a.stride_h = static_cast<int>(strides[0]);
  a.stride_w = static_cast<int>(strides[1]);
  a.pad_top = static_cast<int>(pads[0]);
  a.pad_left = static_cast<int>(pads[1]);
  a.pad_bottom = static_cast<int>(pads[2]);
  a.pad_right = static_cast<int>(pads[3]);
}

float float_attr_of(const onnx::NodeProto& n, std::string_view name, float fallback) {
  for (const onnx::AttributeProto& a : n.attribute())
    if (a.name() == name) return a.f();
  return fallback;
}

// Per-channel y = x * scale + shift of an inference batch-norm, from node `bn`'s constant inputs;
// nullopt when they are not all known or the node has attributes / outputs we do not handle (then
// it is converted on its own and reports the problem).
struct Affine {
  std::vector<float> scale, shift;
};
std::optional<Affine> batch_norm_affine(const Importer& im, const onnx::NodeProto& bn, int64_t channels) {
  if (bn.input_size() != 5) return std::nullopt;
  for (const onnx::AttributeProto& a : bn.attribute()) {
    if (a.name() == "training_mode" && a.i() != 0) return std::nullopt;
    if (a.name() != "epsilon" && a.name() != "momentum" && a.name() != "training_mode") return std::nullopt;
  }
  for (int i = 1; i < bn.output_size(); ++i)
    if (im.tensor_used(bn.output(i))) return std::nullopt;
  const StaticTensor* p[4];
  for (int i = 0; i < 4; ++i) {
    p[i] = im.known(bn.input(i + 1));
    if (!p[i] || p[i]->type != ElemType::Float || p[i]->size() != channels) return std::nullopt;
  }
  const double eps = float_attr_of(bn, "epsilon", 1e-5f);
  Affine out;
  for (size_t c = 0; c < static_cast<size_t>(channels); ++c) {
    const double scale = p[0]->f[c] / std::sqrt(static_cast<double>(p[3]->f[c]) + eps);
    out.scale.push_back(static_cast<float>(scale));
    out.shift.push_back(static_cast<float>(p[1]->f[c] - p[2]->f[c] * scale));
  }
  return out;
}

// Everything a fused convolution node needs, captured so it can be emitted later (at the residual
// Add's position, when the residual has been computed).
struct ConvPlan {
  int x = -1;
  Shape weight_shape;
  std::vector<float> weight, bias;
  bool folded = false;       // weight/bias changed: new constants (else the initializers are reused)
  bool has_bias = false;
  std::string weight_name, bias_name;
  Attrs attrs;
  Shape out_per_sample;      // [k, oh, ow]
};

int emit_conv(Importer& im, const ConvPlan& p, ActivationParams act, int residual) {
  Attrs a = p.attrs;
  a.act = act;
  const std::string suffix = p.folded ? "/bn_folded" : "";
  std::vector<int> inputs{p.x, im.add_constant(p.weight_name + suffix, p.weight_shape, p.weight)};
  if (p.has_bias || residual >= 0) {
    std::vector<float> bias = p.has_bias ? p.bias : std::vector<float>(static_cast<size_t>(p.weight_shape[0]), 0.f);
    inputs.push_back(im.add_constant(p.has_bias ? p.bias_name + suffix : im.node_name() + "/zero_bias",
                                     {p.weight_shape[0]}, std::move(bias)));
  }
  if (residual >= 0) inputs.push_back(residual);
  return im.add_node(OpKind::Conv2d, std::move(inputs), a);
}

}  // namespace

void convert_conv(Importer& im) {
  im.check_attributes({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
  const onnx::NodeProto& n = im.node();
  ConvPlan p;
  p.x = im.activation(0, "the input");
  if (im.rank(p.x) != 4)
    im.fail(fmt::format("only 2-D convolution is supported (NCHW input); the input has per-sample shape {}",
                        shape_str(im.per_sample(p.x))));
  const StaticTensor& w = im.static_input(1, "the weight");
  if (w.type != ElemType::Float || w.shape.size() != 4)
    im.fail(fmt::format("the weight must be a float [K, C/group, R, S] constant, is {}", describe(w)));
  p.weight_shape = w.shape;
  p.weight = w.f;
  p.weight_name = n.input(1);
  const int64_t k = w.shape[0];
  if (im.has_input(2)) {
    const StaticTensor& b = im.static_input(2, "the bias");
    if (b.type != ElemType::Float || b.shape != Shape{k}) im.fail(fmt::format("the bias must be float [{}], is {}", k, describe(b)));
    p.bias = b.f;
    p.has_bias = true;
    p.bias_name = n.input(2);
  }
  std::vector<int64_t> kernel = im.attr_ints("kernel_shape", {w.shape[2], w.shape[3]});
  if (kernel != std::vector<int64_t>{w.shape[2], w.shape[3]})
    im.fail(fmt::format("kernel_shape {} does not match the weight {}", kernel, shape_str(w.shape)));
  const std::vector<int64_t> strides = pair_attr(im, "strides", 1), dilations = pair_attr(im, "dilations", 1);
  const std::vector<int64_t> pads = pads_attr(im);
  const int64_t group = im.attr_int("group", 1);
  if (group < 1) im.fail(fmt::format("group must be positive, is {}", group));
  p.attrs.kernel_h = static_cast<int>(w.shape[2]);
  p.attrs.kernel_w = static_cast<int>(w.shape[3]);
  set_window(p.attrs, strides, pads);
  p.attrs.dilation_h = static_cast<int>(dilations[0]);
  p.attrs.dilation_w = static_cast<int>(dilations[1]);
  p.attrs.groups = static_cast<int>(group);

  const Shape xs = im.per_sample(p.x);
  kernels::Conv2dShape g;
  g.c = static_cast<int>(xs[0]), g.h = static_cast<int>(xs[1]), g.w = static_cast<int>(xs[2]);
  g.k = static_cast<int>(k), g.r = p.attrs.kernel_h, g.s = p.attrs.kernel_w;
  g.stride_h = p.attrs.stride_h, g.stride_w = p.attrs.stride_w;
  g.pad_top = p.attrs.pad_top, g.pad_left = p.attrs.pad_left, g.pad_bottom = p.attrs.pad_bottom, g.pad_right = p.attrs.pad_right;
  g.dilation_h = p.attrs.dilation_h, g.dilation_w = p.attrs.dilation_w;
  g.groups = p.attrs.groups;
  p.out_per_sample = {k, g.out_h(), g.out_w()};

  // Fold a batch-norm that alone consumes the convolution.
  std::string out = n.output(0);
  if (std::optional<int> bn = im.sole_consumer(out, "BatchNormalization")) {
    const onnx::NodeProto& bn_node = im.node_at(*bn);
    if (bn_node.input(0) == out)
      if (std::optional<Affine> affine = batch_norm_affine(im, bn_node, k)) {
        const size_t per_k = p.weight.size() / static_cast<size_t>(k);
        if (!p.has_bias) p.bias.assign(static_cast<size_t>(k), 0.f);
        for (size_t c = 0; c < static_cast<size_t>(k); ++c) {
          for (size_t j = 0; j < per_k; ++j) p.weight[c * per_k + j] *= affine->scale[c];
          p.bias[c] = p.bias[c] * affine->scale[c] + affine->shift[c];
        }
        if (!p.has_bias) p.bias_name = p.weight_name + "/bias";
        p.has_bias = true;
        p.folded = true;
        im.absorb(*bn);
        out = bn_node.output(0);
      }
  }

  // An activation epilogue, or a residual Add (then maybe an activation).
  ActivationParams act = im.absorb_activation(out);
  if (act.kind == Activation::None)
    if (std::optional<int> add = im.sole_consumer(out, "Add")) {
      const onnx::NodeProto& add_node = im.node_at(*add);
      if (add_node.input_size() == 2 && add_node.attribute_size() == 0 && add_node.input(0) != add_node.input(1)) {
        const std::string other = add_node.input(0) == out ? add_node.input(1) : add_node.input(0);
        std::string final_out = add_node.output(0);
        const ActivationParams after = im.absorb_activation(final_out);
        im.defer(*add, [&im, p, other, final_out, after]() {
          const Binding* r = im.binding(other);
          if (!r) im.fail(fmt::format("the residual '{}' is not produced by any earlier node", other));
          if (!r->is_static() && im.per_sample(r->value) == p.out_per_sample) {
            im.bind_value(final_out, emit_conv(im, p, after, r->value));
            return;
          }
          // The other operand broadcasts (or is a constant): an ordinary Add after the conv.
          int y = emit_conv(im, p, {}, -1);
          int other_id = r->value;
          if (r->is_static())
            other_id = im.add_constant(other, r->known->shape, as_floats(*r->known));
          Attrs sum;
          sum.binary = BinaryOp::Add;
          y = im.add_node(OpKind::Binary, {y, other_id}, sum, "/residual_add");
          if (after.kind != Activation::None) {
            Attrs u;
            u.unary = UnaryOp::Activation;
            u.act = after;
            y = im.add_node(OpKind::Unary, {y}, u, "/residual_act");
          }
          im.bind_value(final_out, y);
        });
        return;
      }
    }
  im.bind_value(out, emit_conv(im, p, act, -1));
}

void convert_batch_norm(Importer& im) {
  im.check_attributes({"epsilon", "momentum", "training_mode"});
  if (im.attr_int("training_mode", 0) != 0) im.fail("training_mode=1 is not supported (inference only)");
  im.require_unused_outputs_from(1);
  const int x = im.activation(0, "the input");
  if (im.rank(x) < 2) im.fail("the input needs a channel dimension");
  const int64_t c = im.per_sample(x)[0];
  for (int i = 1; i < 5; ++i) {
    const StaticTensor& t = im.static_input(i, "scale, bias, mean and variance");
    if (t.type != ElemType::Float || t.size() != c)
      im.fail(fmt::format("input {} must be float [{}] (one per channel), is {}", i, c, describe(t)));
  }
  std::optional<Affine> affine = batch_norm_affine(im, im.node(), c);
  if (!affine) im.fail("cannot compute the batch-norm's per-channel affine");
  std::string out = im.node().output(0);
  Attrs a;
  a.act = im.absorb_activation(out);
  const std::string base = im.node_name();
  int scale = im.add_constant(base + "/scale", {c}, affine->scale);
  int shift = im.add_constant(base + "/shift", {c}, affine->shift);
  im.bind_value(out, im.add_node(OpKind::ChannelAffine, {x, scale, shift}, a));
}

namespace {

void convert_pool(Importer& im, OpKind op) {
  const bool is_max = op == OpKind::MaxPool;
  if (is_max) {
    im.check_attributes({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"});
    im.require_unused_outputs_from(1);  // Indices
    for (int64_t d : pair_attr(im, "dilations", 1))
      if (d != 1) im.fail("dilated pooling is not supported (dilations must be 1)");
  } else {
    im.check_attributes({"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"});
  }
  const int x = im.activation(0, "the input");
  if (im.rank(x) != 4)
    im.fail(fmt::format("only 2-D pooling is supported (NCHW input); the input has per-sample shape {}",
                        shape_str(im.per_sample(x))));
  if (!im.has_attr("kernel_shape")) im.fail("attribute kernel_shape is required");
  const std::vector<int64_t> kernel = pair_attr(im, "kernel_shape", 1);
  Attrs a;
  a.kernel_h = static_cast<int>(kernel[0]);
  a.kernel_w = static_cast<int>(kernel[1]);
  set_window(a, pair_attr(im, "strides", 1), pads_attr(im));
  a.ceil_mode = im.attr_int("ceil_mode", 0) != 0;
  a.count_include_pad = im.attr_int("count_include_pad", 0) != 0;
  im.bind_output(0, im.add_node(op, {x}, a));
}

}  // namespace

void convert_max_pool(Importer& im) { convert_pool(im, OpKind::MaxPool); }
void convert_average_pool(Importer& im) { convert_pool(im, OpKind::AvgPool); }

void convert_global_average_pool(Importer& im) {
  im.check_attributes({});
  const int x = im.activation(0, "the input");
  if (im.rank(x) != 4) im.fail("only 2-D global pooling is supported (NCHW input)");
  im.bind_output(0, im.add_node(OpKind::GlobalAvgPool, {x}));
}

}  // namespace dstack::models::onnx_import
