#include "models/builder.h"

#include <cmath>

namespace dstack::models {

ModelBuilder::ModelBuilder(std::string model_name, const BuildOptions& options)
    : rng_(options.seed), weights_(options.weights) {
  model_.graph = Graph(std::move(model_name));
  model_.source = "zoo";
  model_.seed = options.seed;
}

// Uniform in [-scale, scale) from the raw engine bits: std::uniform_real_distribution differs
// between standard libraries, and weights must be identical everywhere for a given seed.
std::vector<float> ModelBuilder::random(int64_t count, float scale) {
  if (!weights_) return {};
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v) {
    float u = static_cast<float>(rng_() >> 40) * (1.0f / 16777216.0f);  // 24 bits -> [0, 1)
    x = (2.f * u - 1.f) * scale;
  }
  return v;
}

int ModelBuilder::constant(const std::string& name, Shape shape, std::vector<float> data) {
  if (!weights_) return model_.graph.add_constant_shape(name, std::move(shape));
  return model_.graph.add_constant(name, std::move(shape), std::move(data));
}

int ModelBuilder::input(const std::string& name, Shape per_sample_shape) {
  return model_.graph.add_input(name, std::move(per_sample_shape));
}

int ModelBuilder::conv(const std::string& name, int x, const ConvSpec& c, int residual) {
  const int64_t in_c = shape(x).at(0);
  const int64_t fan_in = in_c / c.groups * c.kernel_h * c.kernel_w;
  // He-uniform keeps activations near unit scale through ReLU stacks, as a trained, batch-normed
  // network's would be; the folded batch-norm becomes the bias.
  Shape wshape{c.out_channels, in_c / c.groups, c.kernel_h, c.kernel_w};
  // A residual branch's last convolution starts small (as zero-init-residual training does), else
  // the identity paths double the variance block after block: ResNet-152's output would reach 1e9.
  const float gain = residual >= 0 ? 0.2f : 1.f;
  int w = constant(name + ".weight", wshape,
                   random(num_elements(wshape), gain * std::sqrt(6.f / static_cast<float>(fan_in))));
  std::vector<int> inputs{x, w};
  const bool has_bias = c.bias || c.batch_norm;
  if (has_bias) inputs.push_back(constant(name + ".bias", {c.out_channels}, random(c.out_channels, 0.1f)));
  if (residual >= 0) {
    if (!has_bias)
      inputs.push_back(constant(name + ".bias", {c.out_channels},
                                weights_ ? std::vector<float>(static_cast<size_t>(c.out_channels), 0.f) : std::vector<float>{}));
    inputs.push_back(residual);
  }
  model_.param_count += num_elements(wshape) + (c.bias ? c.out_channels : 0) + (c.batch_norm ? 2 * c.out_channels : 0);

  Attrs a;
  a.kernel_h = c.kernel_h, a.kernel_w = c.kernel_w;
  a.stride_h = c.stride_h, a.stride_w = c.stride_w;
  a.pad_top = a.pad_bottom = c.pad_h;
  a.pad_left = a.pad_right = c.pad_w;
  a.dilation_h = a.dilation_w = c.dilation;
  a.groups = c.groups;
  a.act = c.act;
  return model_.graph.add_node(name, OpKind::Conv2d, inputs, a);
}

int ModelBuilder::linear(const std::string& name, int x, int out_features, ActivationParams act, bool bias) {
  const int64_t in_f = shape(x).back();
  int w = constant(name + ".weight", {out_features, in_f}, random(out_features * in_f, std::sqrt(3.f / static_cast<float>(in_f))));
  std::vector<int> inputs{x, w};
  if (bias) inputs.push_back(constant(name + ".bias", {out_features}, random(out_features, 0.1f)));
  model_.param_count += out_features * in_f + (bias ? out_features : 0);
  Attrs a;
  a.act = act;
  return model_.graph.add_node(name, OpKind::Linear, inputs, a);
}

int ModelBuilder::batch_norm(const std::string& name, int x, ActivationParams act) {
  const int64_t c = shape(x).at(0);
  std::vector<float> scale = random(c, 0.1f);
  for (float& s : scale) s += 1.f;  // empty without weights
  int sc = constant(name + ".scale", {c}, std::move(scale));
  int sh = constant(name + ".shift", {c}, random(c, 0.1f));
  model_.param_count += 2 * c;
  Attrs a;
  a.act = act;
  return model_.graph.add_node(name, OpKind::ChannelAffine, {x, sc, sh}, a);
}

int ModelBuilder::activation(const std::string& name, int x, ActivationParams act) {
  Attrs a;
  a.unary = UnaryOp::Activation;
  a.act = act;
  return model_.graph.add_node(name, OpKind::Unary, {x}, a);
}

int ModelBuilder::max_pool(const std::string& name, int x, int kernel, int stride, int pad, bool ceil_mode) {
  Attrs a;
  a.kernel_h = a.kernel_w = kernel;
  a.stride_h = a.stride_w = stride;
  a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = pad;
  a.ceil_mode = ceil_mode;
  return model_.graph.add_node(name, OpKind::MaxPool, {x}, a);
}

int ModelBuilder::avg_pool(const std::string& name, int x, int kernel, int stride, int pad, bool count_include_pad) {
  Attrs a;
  a.kernel_h = a.kernel_w = kernel;
  a.stride_h = a.stride_w = stride;
  a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = pad;
  a.count_include_pad = count_include_pad;
  return model_.graph.add_node(name, OpKind::AvgPool, {x}, a);
}

int ModelBuilder::global_avg_pool(const std::string& name, int x) {
  return model_.graph.add_node(name, OpKind::GlobalAvgPool, {x});
}

int ModelBuilder::add(const std::string& name, int a, int b) {
  Attrs at;
  at.binary = BinaryOp::Add;
  return model_.graph.add_node(name, OpKind::Binary, {a, b}, at);
}

int ModelBuilder::concat(const std::string& name, const std::vector<int>& xs, int axis) {
  Attrs a;
  a.axis = axis;
  return model_.graph.add_node(name, OpKind::Concat, xs, a);
}

int ModelBuilder::flatten(const std::string& name, int x) { return reshape(name, x, {num_elements(shape(x))}); }

int ModelBuilder::reshape(const std::string& name, int x, Shape per_sample_shape) {
  Attrs a;
  a.shape = std::move(per_sample_shape);
  return model_.graph.add_node(name, OpKind::Reshape, {x}, a);
}

int ModelBuilder::transpose(const std::string& name, int x, std::vector<int> perm) {
  Attrs a;
  a.perm = std::move(perm);
  return model_.graph.add_node(name, OpKind::Transpose, {x}, a);
}

int ModelBuilder::matmul(const std::string& name, int a, int b, float alpha) {
  Attrs at;
  at.alpha = alpha;
  return model_.graph.add_node(name, OpKind::MatMul, {a, b}, at);
}

int ModelBuilder::softmax(const std::string& name, int x) { return model_.graph.add_node(name, OpKind::Softmax, {x}); }

int ModelBuilder::layer_norm(const std::string& name, int x, float eps) {
  const int64_t d = shape(x).back();
  std::vector<float> gamma = random(d, 0.1f);
  for (float& g : gamma) g += 1.f;
  int g = constant(name + ".weight", {d}, std::move(gamma));
  int b = constant(name + ".bias", {d}, random(d, 0.1f));
  model_.param_count += 2 * d;
  Attrs a;
  a.epsilon = eps;
  return model_.graph.add_node(name, OpKind::LayerNorm, {x, g, b}, a);
}

int ModelBuilder::embedding(const std::string& name, int ids, int rows, int dim) {
  // Unit-variance rows, like a trained embedding after its layer norm would see.
  int table = constant(name + ".weight", {rows, dim}, random(int64_t{rows} * dim, std::sqrt(3.f)));
  model_.param_count += int64_t{rows} * dim;
  return model_.graph.add_node(name, OpKind::Embedding, {table, ids});
}

int ModelBuilder::add_learned(const std::string& name, int x, Shape constant_shape) {
  const int64_t count = num_elements(constant_shape);
  int c = constant(name + ".weight", std::move(constant_shape), random(count, std::sqrt(3.f)));
  model_.param_count += count;
  Attrs a;
  a.binary = BinaryOp::Add;
  return model_.graph.add_node(name, OpKind::Binary, {x, c}, a);
}

int ModelBuilder::output(int x) {
  model_.graph.mark_output(x);
  return x;
}

Model ModelBuilder::finish() { return std::move(model_); }

}  // namespace dstack::models
