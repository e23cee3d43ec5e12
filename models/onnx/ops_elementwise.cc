// Elementwise ops (binary with broadcasting, unary math and activations), softmax, layer norm, mean.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <numeric>

#include "models/onnx/ops.h"

namespace dstack::models::onnx_import {

namespace {

BinaryOp binary_of(const std::string& op) {
  if (op == "Add") return BinaryOp::Add;
  if (op == "Sub") return BinaryOp::Sub;
  if (op == "Mul") return BinaryOp::Mul;
  if (op == "Div") return BinaryOp::Div;
  return BinaryOp::Pow;
}

bool holds_ints(const Importer& im, int i) {
  const Binding& b = im.input(i);
  return b.is_static() ? b.known->type == ElemType::Int : b.int_data;
}

// A per-sample shape with axes [from, end) merged into one: what a last-axis kernel needs to act
// on several trailing axes at once.
Shape merge_trailing(const Shape& per_sample, int from) {
  Shape s(per_sample.begin(), per_sample.begin() + from);
  s.push_back(num_elements(Shape(per_sample.begin() + from, per_sample.end())));
  return s;
}

int reshape(Importer& im, int x, Shape per_sample, std::string_view suffix) {
  Attrs a;
  a.shape = std::move(per_sample);
  return im.add_node(OpKind::Reshape, {x}, a, suffix);
}

}  // namespace

void convert_binary(Importer& im) {
  im.check_attributes({});
  const BinaryOp op = binary_of(im.node().op_type());
  if (im.all_inputs_static()) {
    im.bind_static(0, static_binary(op, *im.input(0).known, *im.input(1).known));
    return;
  }
  // Integer tensors at run time (token ids) are float-encoded; integer division would differ.
  const bool ints = holds_ints(im, 0) && holds_ints(im, 1);
  if (ints && op == BinaryOp::Div) im.fail("integer division of run-time tensors is not supported");
  Attrs a;
  a.binary = op;
  const int lhs = im.value(0), rhs = im.value(1);
  im.bind_output(0, im.add_node(OpKind::Binary, {lhs, rhs}, a), ints);
}

void convert_unary(Importer& im) {
  const std::string& op = im.node().op_type();
  im.check_attributes({});
  Attrs a;
  a.unary = UnaryOp::Activation;
  if (op == "Relu") {
    a.act = {Activation::Relu};
  } else if (op == "Sigmoid") {
    a.act = {Activation::Sigmoid};
  } else if (op == "Tanh") {
    a.act = {Activation::Tanh};
  } else if (op == "Clip") {
    std::optional<ActivationParams> act = im.activation_of(im.node());
    if (!act) im.fail("Clip's min and max must be constant scalars");
    a.act = *act;
  } else if (op == "Erf") {
    a.unary = UnaryOp::Erf;
  } else if (op == "Sqrt") {
    a.unary = UnaryOp::Sqrt;
  } else if (op == "Neg") {
    a.unary = UnaryOp::Neg;
  } else if (op == "Reciprocal") {
    a.unary = UnaryOp::Reciprocal;
  } else {
    a.unary = UnaryOp::Exp;
  }
  if (im.input_is_static(0)) {
    im.bind_static(0, static_unary(a.unary, a.act, *im.input(0).known));
    return;
  }
  const int x = im.activation(0, "the input");
  const bool keeps_ints = im.input(0).int_data && (a.unary == UnaryOp::Neg || a.unary == UnaryOp::Activation) &&
                          a.act.kind != Activation::Sigmoid && a.act.kind != Activation::Tanh;
  im.bind_output(0, im.add_node(OpKind::Unary, {x}, a), keeps_ints);
}

void convert_softmax(Importer& im) {
  im.check_attributes({"axis"});
  const int x = im.activation(0, "the input");
  const int r = im.rank(x);
  // Opset 13 normalises along one axis (default -1); before, along the flattened axes [axis, r)
  // (default 1): both become the kernel's last-axis softmax, via a transpose or a reshape.
  const bool flattening = im.opset() < 13;
  const int axis = normalize_axis(im.attr_int("axis", flattening ? 1 : -1), r);
  if (axis == 0) im.fail("softmax over the batch axis (axis 0) is not supported");
  if (axis == r - 1) {
    im.bind_output(0, im.add_node(OpKind::Softmax, {x}));
  } else if (flattening) {
    const Shape ps = im.per_sample(x);
    int y = reshape(im, x, merge_trailing(ps, axis - 1), "/flatten");
    y = im.add_node(OpKind::Softmax, {y}, {}, "/softmax");
    im.bind_output(0, reshape(im, y, ps, ""));
  } else {
    Attrs t;
    t.perm.resize(static_cast<size_t>(r));
    std::iota(t.perm.begin(), t.perm.end(), 0);
    std::swap(t.perm[static_cast<size_t>(axis)], t.perm.back());
    int y = im.add_node(OpKind::Transpose, {x}, t, "/to_last");
    y = im.add_node(OpKind::Softmax, {y}, {}, "/softmax");
    im.bind_output(0, im.add_node(OpKind::Transpose, {y}, t, ""));  // the swap is its own inverse
  }
}

void convert_layer_norm(Importer& im) {
  im.check_attributes({"axis", "epsilon", "stash_type"});
  im.require_unused_outputs_from(1);  // Mean, InvStdDev
  const int x = im.activation(0, "the input");
  const int r = im.rank(x);
  const int axis = normalize_axis(im.attr_int("axis", -1), r);
  if (axis == 0) im.fail("normalising over the batch axis (axis 0) is not supported");
  const Shape ps = im.per_sample(x);
  const int64_t count = num_elements(Shape(ps.begin() + axis - 1, ps.end()));
  Attrs a;
  a.epsilon = im.attr_float("epsilon", 1e-5f);
  std::vector<int> inputs{x};
  if (!im.has_input(1)) im.fail("the scale input is required");
  for (int i = 1; i < 3 && im.has_input(i); ++i) {
    const StaticTensor& t = im.static_input(i, i == 1 ? "the scale" : "the bias");
    if (t.type != ElemType::Float || t.size() != count)
      im.fail(fmt::format("{} must be float with {} elements (the normalised axes), is {}", i == 1 ? "the scale" : "the bias",
                          count, describe(t)));
    inputs.push_back(im.add_constant(im.node().input(i) + (t.shape.size() == 1 ? "" : "/flat"), {count}, t.f));
  }
  if (axis == r - 1) {
    im.bind_output(0, im.add_node(OpKind::LayerNorm, inputs, a));
    return;
  }
  inputs[0] = reshape(im, x, merge_trailing(ps, axis - 1), "/flatten");
  const int y = im.add_node(OpKind::LayerNorm, inputs, a, "/layernorm");
  im.bind_output(0, reshape(im, y, ps, ""));
}

void convert_reduce_mean(Importer& im) {
  im.check_attributes({"axes", "keepdims"});
  const int x = im.activation(0, "the input");
  if (!im.has_attr("axes"))
    im.fail("ReduceMean over every axis would include the batch; give axes (not 0)");
  Attrs a;
  for (int64_t ax : im.attr_ints("axes")) a.axes.push_back(normalize_axis(ax, im.rank(x)));
  std::sort(a.axes.begin(), a.axes.end());
  a.axes.erase(std::unique(a.axes.begin(), a.axes.end()), a.axes.end());
  if (!a.axes.empty() && a.axes[0] == 0) im.fail("reducing over the batch axis (axis 0) is not supported");
  a.keepdims = im.attr_int("keepdims", 1) != 0;
  im.bind_output(0, im.add_node(OpKind::ReduceMean, {x}, a));
}

}  // namespace dstack::models::onnx_import
