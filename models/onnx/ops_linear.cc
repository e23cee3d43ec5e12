// Gemm and MatMul: Linear when the weight is a constant matrix (with the bias Add and an activation
// fused), MatMul between activations (with a constant scale fused into alpha).
#include <fmt/format.h>

#include "models/onnx/ops.h"

namespace dstack::models::onnx_import {

namespace {

// [rows, cols] row-major -> [cols, rows].
std::vector<float> transposed(const std::vector<float>& m, int64_t rows, int64_t cols) {
  std::vector<float> t(m.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t[static_cast<size_t>(c * rows + r)] = m[static_cast<size_t>(r * cols + c)];
  return t;
}

const StaticTensor& float_constant(Importer& im, int i, std::string_view what) {
  const StaticTensor& t = im.static_input(i, what);
  if (t.type != ElemType::Float) im.fail(fmt::format("{} must be float, is {}", what, describe(t)));
  return t;
}

// A constant that adds the same [n] vector to every row: [n], or [1, ..., 1, n] no longer than
// `max_rank` (so adding it cannot grow the output's rank).
bool is_row_bias(const StaticTensor& t, int64_t n, int max_rank) {
  if (t.type != ElemType::Float || t.shape.empty() || t.shape.back() != n) return false;
  if (static_cast<int>(t.shape.size()) > max_rank) return false;
  return t.size() == n;
}

int linear(Importer& im, int x, std::vector<float> weight, int64_t n, int64_t k, std::vector<float> bias,
           ActivationParams act) {
  const std::string base = im.node_name();
  std::vector<int> inputs{x, im.add_constant(base + "/weight", {n, k}, std::move(weight))};
  if (!bias.empty()) inputs.push_back(im.add_constant(base + "/bias", {n}, std::move(bias)));
  Attrs a;
  a.act = act;
  return im.add_node(OpKind::Linear, std::move(inputs), a);
}

}  // namespace

void convert_gemm(Importer& im) {
  im.check_attributes({"alpha", "beta", "transA", "transB"});
  if (im.attr_int("transA", 0) != 0)
    im.fail("transA=1 is not supported (A is the activation, with the batch as its rows)");
  const int a = im.activation(0, "A");
  if (im.rank(a) != 2)
    im.fail(fmt::format("A must be 2-D [batch, K]; it has per-sample shape {}", shape_str(im.per_sample(a))));
  if (!im.input_is_static(1)) im.fail("B must be a constant weight (for a product of two activations use MatMul)");
  const StaticTensor& b = float_constant(im, 1, "B");
  if (b.shape.size() != 2) im.fail(fmt::format("B must be 2-D, is {}", describe(b)));
  const bool trans_b = im.attr_int("transB", 0) != 0;
  const int64_t n = trans_b ? b.shape[0] : b.shape[1], k = trans_b ? b.shape[1] : b.shape[0];
  if (im.per_sample(a)[0] != k)
    im.fail(fmt::format("A has {} columns, B {} (transB={}) needs {}", im.per_sample(a)[0], shape_str(b.shape),
                        trans_b ? 1 : 0, k));
  std::vector<float> w = trans_b ? b.f : transposed(b.f, k, n);
  const float alpha = im.attr_float("alpha", 1.f), beta = im.attr_float("beta", 1.f);
  if (alpha != 1.f)
    for (float& v : w) v *= alpha;

  std::vector<float> bias;
  if (im.has_input(2) && beta != 0.f) {
    if (!im.input_is_static(2)) im.fail("C must be a constant (a bias)");
    const StaticTensor& c = float_constant(im, 2, "C");
    if (c.size() == 1)
      bias.assign(static_cast<size_t>(n), c.f[0]);
    else if (is_row_bias(c, n, 2))
      bias = c.f;
    else
      im.fail(fmt::format("C of shape {} is not supported (it must broadcast to [{}] for every row)", shape_str(c.shape), n));
    for (float& v : bias) v *= beta;
  }
  std::string out = im.node().output(0);
  const ActivationParams act = im.absorb_activation(out);
  im.bind_value(out, linear(im, a, std::move(w), n, k, std::move(bias), act));
}

void convert_matmul(Importer& im) {
  im.check_attributes({});
  if (im.all_inputs_static()) im.fail("both operands are constants; MatMul is not evaluated while loading");
  std::string out = im.node().output(0);

  if (im.input_is_static(1)) {
    const int a = im.activation(0, "A");
    const StaticTensor& b = float_constant(im, 1, "B");
    const int64_t k = im.per_sample(a).empty() ? 0 : im.per_sample(a).back();
    if (b.shape.size() == 2) {  // x W: a Linear layer with weight W^T
      if (b.shape[0] != k)
        im.fail(fmt::format("inner dims differ: A has per-sample shape {}, B is {}", shape_str(im.per_sample(a)),
                            shape_str(b.shape)));
      const int64_t n = b.shape[1];
      std::vector<float> bias;
      if (std::optional<int> add = im.sole_consumer(out, "Add")) {
        const onnx::NodeProto& add_node = im.node_at(*add);
        const std::string& other = add_node.input(0) == out ? add_node.input(1) : add_node.input(0);
        const StaticTensor* c = im.known(other);
        if (add_node.input_size() == 2 && c && is_row_bias(*c, n, im.rank(a))) {
          bias = c->f;
          im.absorb(*add);
          out = add_node.output(0);
        }
      }
      const ActivationParams act = im.absorb_activation(out);
      im.bind_value(out, linear(im, a, transposed(b.f, k, n), n, k, std::move(bias), act));
      return;
    }
    if (b.shape.size() == 1) {  // x v: a dot product over the last axis, which then disappears
      if (b.shape[0] != k) im.fail(fmt::format("inner dims differ: A ends in {}, B is [{}]", k, b.shape[0]));
      int y = linear(im, a, b.f, 1, k, {}, {});
      Attrs r;
      r.shape = Shape(im.per_sample(a).begin(), im.per_sample(a).end() - 1);
      im.bind_output(0, im.add_node(OpKind::Reshape, {y}, r, "/squeeze"));
      return;
    }
    im.bind_output(0, im.add_node(OpKind::MatMul, {a, im.value(1)}));
    return;
  }

  const int b = im.activation(1, "B");
  if (im.input_is_static(0)) {
    if (im.input(0).known->shape.size() < 2) im.fail("a constant A must have rank >= 2");
    im.bind_output(0, im.add_node(OpKind::MatMul, {im.value(0), b}));
    return;
  }
  const int a = im.activation(0, "A");
  if (im.rank(a) < 3 || im.rank(b) < 3)
    im.fail(fmt::format("a product of two activations needs both of rank >= 3 (batch first, then matrices); got "
                        "per-sample shapes {} and {}", shape_str(im.per_sample(a)), shape_str(im.per_sample(b))));
  Attrs attrs;
  // Attention's scaling, (q k^T) / sqrt(d): a constant scalar factor becomes alpha.
  for (std::string_view op : {"Mul", "Div"}) {
    std::optional<int> next = im.sole_consumer(out, op);
    if (!next) continue;
    const onnx::NodeProto& s = im.node_at(*next);
    if (s.input_size() != 2 || (op == "Div" && s.input(0) != out)) continue;
    const StaticTensor* c = im.known(s.input(0) == out ? s.input(1) : s.input(0));
    if (!c || c->type != ElemType::Float || c->size() != 1 || c->shape.size() > static_cast<size_t>(im.rank(a)))
      continue;
    attrs.alpha = op == "Mul" ? c->f[0] : 1.f / c->f[0];
    im.absorb(*next);
    out = s.output(0);
    break;
  }
  im.bind_value(out, im.add_node(OpKind::MatMul, {a, b}, attrs));
}

}  // namespace dstack::models::onnx_import
