#pragma once
// A model as a graph of layers over tensors ("values"). Every activation tensor carries the batch
// as its dimension 0; shapes are stored per sample (without that dimension) so one graph serves
// every batch size. Constants (weights, biases, folded batch-norm) have full shapes and data.
// Nodes are kept in a valid execution order (every input is produced before it is used).
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "kernels/conv2d.h"
#include "kernels/elementwise.h"
#include "kernels/pooling.h"

namespace dstack::models {

using Shape = std::vector<int64_t>;
using kernels::Activation;
using kernels::ActivationParams;
using kernels::BinaryOp;
using kernels::UnaryOp;

std::string shape_str(const Shape& s);
// No tensor has more elements (2^48): the bound keeps every element and byte count in int64.
inline constexpr int64_t kMaxElements = int64_t{1} << 48;
// The product of the dims; throws std::invalid_argument when it is beyond kMaxElements (a malformed
// model's shapes, found by fuzzing the ONNX importer).
int64_t num_elements(const Shape& s);

struct Value {
  std::string name;
  Shape shape;          // per sample for activations (no batch dim); full for constants
  bool constant = false;
  std::shared_ptr<const std::vector<float>> data;  // constants only; size == num_elements(shape), or null
                                                   // in a shape-only graph
};

enum class OpKind {
  Conv2d,          // in: x, weight [k, c/g, r, s], [bias [k]], [residual (same shape as output)];
                   // a residual needs the bias slot filled (zeros when the conv has none)
  Linear,          // in: x [..., k], weight [n, k], [bias [n]]  ->  [..., n]
  MatMul,          // in: a [..., m, k], b [..., k, n] (activation or constant), leading dims broadcast
  ChannelAffine,   // in: x [c, ...], scale [c], shift [c]: an unfolded batch-norm
  Unary,           // in: x
  Binary,          // in: a, b (NumPy broadcasting; either may be a constant)
  MaxPool,         // in: x [c, h, w]
  AvgPool,         // in: x [c, h, w]
  GlobalAvgPool,   // in: x [c, h, w] -> [c, 1, 1]
  Concat,          // in: x0, x1, ...
  Reshape,         // in: x -> attrs.shape (per sample); also Flatten
  Transpose,       // in: x; attrs.perm over the full shape, perm[0] == 0 (the batch stays first)
  Slice,           // in: x; attrs.axes/starts/ends/steps over the full shape (axis 0 not allowed)
  Pad,             // in: x; attrs.pads_begin/pads_end over the full shape (axis 0 zero)
  Gather,          // in: x; attrs.axis (>= 1) and attrs.indices (constant): select along an axis;
                   // attrs.keepdims = false means a scalar index (one index, the axis is dropped)
  Embedding,       // in: table [rows, dim] (constant), ids (activation, float-encoded) -> ids.shape + [dim]
  Softmax,         // in: x; along the last axis
  LayerNorm,       // in: x, [gamma], [beta]; along the last axis
  ReduceMean,      // in: x; attrs.axes (full-shape axes, not 0), attrs.keepdims
};

std::string_view op_name(OpKind op);

struct Attrs {
  // Conv2d, MaxPool, AvgPool
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;
  bool ceil_mode = false;
  bool count_include_pad = false;
  // Fused epilogue of Conv2d/Linear/ChannelAffine; the function of Unary(Activation)
  ActivationParams act;
  // Unary / Binary
  UnaryOp unary = UnaryOp::Activation;
  BinaryOp binary = BinaryOp::Add;
  // MatMul: c = alpha * a b
  float alpha = 1.f;
  // LayerNorm
  float epsilon = 1e-5f;
  // Concat, Gather (axis of the full shape)
  int axis = 1;
  // Reshape: per-sample target shape (no -1: resolved at construction)
  Shape shape;
  // Transpose
  std::vector<int> perm;
  // Slice / ReduceMean axes; Slice starts/ends/steps (clamped, steps > 0)
  std::vector<int> axes;
  std::vector<int64_t> starts, ends, steps;
  bool keepdims = true;
  // Pad
  std::vector<int64_t> pads_begin, pads_end;
  float pad_value = 0.f;
  // Gather
  std::vector<int64_t> indices;
};

struct Node {
  std::string name;
  OpKind op;
  std::vector<int> inputs;  // value ids
  int output = -1;          // value id
  Attrs attrs;
};

// Thrown for a graph that cannot be built: names the node, the op and what is wrong.
class GraphError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Graph {
 public:
  explicit Graph(std::string name = {}) : name_(std::move(name)) {}

  const std::string& name() const { return name_; }
  // Per-sample shape of every input the caller must feed (usually one: the image or token ids).
  const std::vector<int>& inputs() const { return inputs_; }
  const std::vector<int>& outputs() const { return outputs_; }
  const std::vector<Value>& values() const { return values_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  const Value& value(int id) const { return values_.at(static_cast<size_t>(id)); }

  // ---- construction (shapes are inferred and checked as nodes are added; errors throw GraphError)
  int add_input(const std::string& name, Shape per_sample_shape);
  int add_constant(const std::string& name, Shape shape, std::vector<float> data);
  // A constant whose data is not materialized (shape-only graphs: planning, counting, simulation).
  int add_constant_shape(const std::string& name, Shape shape);
  // Adds a node; infers and checks its output's per-sample shape; returns the output value id.
  int add_node(const std::string& name, OpKind op, std::vector<int> inputs, Attrs attrs = {});
  void mark_output(int value);

  // Total number of constant elements (the parameter count, once batch-norm is folded it counts
  // folded parameters; see Model::param_count for the framework-comparable count).
  int64_t constant_elements() const;

 private:
  std::string name_;
  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::vector<int> inputs_;
  std::vector<int> outputs_;
};

// Output shape (full, with batch) of node `n` for a given batch size, from its inputs' full shapes.
// Used by construction (batch 1) and by planning/execution. Throws GraphError naming the node.
Shape infer_output_shape(const Graph& g, const Node& n, const std::vector<Shape>& input_full_shapes);

// The kernel geometry of a Conv2d / pooling node at full input shapes: the one place a node's
// attributes become kernel arguments (shape inference, plans and executors all use it).
kernels::Conv2dShape conv2d_geometry(const Node& n, const Shape& x, const Shape& w);
kernels::Pool2dShape pool2d_geometry(const Node& n, const Shape& x);

// Full shape of a value at `batch` (prepends the batch to activations).
Shape full_shape(const Value& v, int64_t batch);

}  // namespace dstack::models
