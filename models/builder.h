#pragma once
// Builds graphs layer by layer the way the model definitions read (conv, bn, relu, pool, ...),
// with seeded random weights, batch-norm folded into the preceding convolution, and the
// torchvision-comparable parameter count kept as it goes.
#include <cstdint>
#include <random>
#include <string>

#include "models/model.h"

namespace dstack::models {

struct ConvSpec {
  int out_channels = 1;
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;  // symmetric
  int dilation = 1;
  int groups = 1;
  bool bias = false;        // the convolution's own bias (before any batch-norm)
  bool batch_norm = true;   // followed by a batch-norm (folded into weight and bias)
  ActivationParams act{Activation::Relu};

  static ConvSpec square(int out, int k, int stride = 1, int pad = 0) {
    ConvSpec c;
    c.out_channels = out;
    c.kernel_h = c.kernel_w = k;
    c.stride_h = c.stride_w = stride;
    c.pad_h = c.pad_w = pad;
    return c;
  }
};

struct BuildOptions {
  uint64_t seed = 1;
  // Without weights the graph has every shape but no constant data: enough to plan, count and
  // simulate a model in milliseconds instead of generating hundreds of MB of random numbers.
  bool weights = true;
};

class ModelBuilder {
 public:
  ModelBuilder(std::string model_name, const BuildOptions& options);

  Graph& graph() { return model_.graph; }
  int input(const std::string& name, Shape per_sample_shape);

  // Convolution (+ folded batch-norm) + optional residual + activation, as one node.
  int conv(const std::string& name, int x, const ConvSpec& spec, int residual = -1);
  // Fully connected: y = act(x W^T + b). Counts n*k + n parameters.
  int linear(const std::string& name, int x, int out_features, ActivationParams act = {}, bool bias = true);
  // Batch-norm that cannot be folded (e.g. before a convolution): a per-channel affine.
  int batch_norm(const std::string& name, int x, ActivationParams act = {});
  int activation(const std::string& name, int x, ActivationParams act);
  int max_pool(const std::string& name, int x, int kernel, int stride, int pad, bool ceil_mode = false);
  int avg_pool(const std::string& name, int x, int kernel, int stride, int pad, bool count_include_pad = true);
  int global_avg_pool(const std::string& name, int x);
  int add(const std::string& name, int a, int b);
  int concat(const std::string& name, const std::vector<int>& xs, int axis = 1);
  int flatten(const std::string& name, int x);
  int reshape(const std::string& name, int x, Shape per_sample_shape);
  int transpose(const std::string& name, int x, std::vector<int> perm);
  int matmul(const std::string& name, int a, int b, float alpha = 1.f);
  int softmax(const std::string& name, int x);
  int layer_norm(const std::string& name, int x, float eps);
  // Embedding table [rows, dim] looked up with float-encoded ids.
  int embedding(const std::string& name, int ids, int rows, int dim);
  // A learned constant added to x (e.g. BERT's position embeddings for a fixed sequence length).
  int add_learned(const std::string& name, int x, Shape constant_shape);
  int output(int x);

  Model finish();

  const Shape& shape(int value) const { return model_.graph.value(value).shape; }

 private:
  std::vector<float> random(int64_t count, float scale);
  int constant(const std::string& name, Shape shape, std::vector<float> data);

  Model model_;
  std::mt19937_64 rng_;
  bool weights_;
};

}  // namespace dstack::models
