#include "models/graph.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>


namespace dstack::models {

std::string shape_str(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

int64_t num_elements(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s)  // (a -1 placeholder dim, as a Reshape target has, gives a negative product)
    if (__builtin_mul_overflow(n, d, &n) || n > kMaxElements || n < -kMaxElements)
      throw std::invalid_argument(fmt::format("shape {} has more than 2^48 elements", shape_str(s)));
  return n;
}

std::string_view op_name(OpKind op) {
  switch (op) {
    case OpKind::Conv2d: return "Conv2d";
    case OpKind::Linear: return "Linear";
    case OpKind::MatMul: return "MatMul";
    case OpKind::ChannelAffine: return "ChannelAffine";
    case OpKind::Unary: return "Unary";
    case OpKind::Binary: return "Binary";
    case OpKind::MaxPool: return "MaxPool";
    case OpKind::AvgPool: return "AvgPool";
    case OpKind::GlobalAvgPool: return "GlobalAvgPool";
    case OpKind::Concat: return "Concat";
    case OpKind::Reshape: return "Reshape";
    case OpKind::Transpose: return "Transpose";
    case OpKind::Slice: return "Slice";
    case OpKind::Pad: return "Pad";
    case OpKind::Gather: return "Gather";
    case OpKind::Embedding: return "Embedding";
    case OpKind::Softmax: return "Softmax";
    case OpKind::LayerNorm: return "LayerNorm";
    case OpKind::ReduceMean: return "ReduceMean";
  }
  return "?";
}

Shape full_shape(const Value& v, int64_t batch) {
  if (v.constant) return v.shape;
  Shape s{batch};
  s.insert(s.end(), v.shape.begin(), v.shape.end());
  return s;
}

namespace {

[[noreturn]] void fail(const Node& n, const std::string& what) {
  throw GraphError(fmt::format("node '{}' ({}): {}", n.name, op_name(n.op), what));
}

void expect_inputs(const Node& n, const std::vector<Shape>& in, size_t lo, size_t hi) {
  if (in.size() < lo || in.size() > hi)
    fail(n, hi == lo ? fmt::format("takes {} inputs, got {}", lo, in.size())
                     : fmt::format("takes {} to {} inputs, got {}", lo, hi, in.size()));
}

void expect_rank(const Node& n, const Shape& s, size_t rank, const char* what) {
  if (s.size() != rank) fail(n, fmt::format("{} must have rank {}, has shape {}", what, rank, shape_str(s)));
}

}  // namespace

kernels::Conv2dShape conv2d_geometry(const Node& n, const Shape& x, const Shape& w) {
  const Attrs& a = n.attrs;
  kernels::Conv2dShape s;
  s.n = static_cast<int>(x[0]);
  s.c = static_cast<int>(x[1]);
  s.h = static_cast<int>(x[2]);
  s.w = static_cast<int>(x[3]);
  s.k = static_cast<int>(w[0]);
  s.r = static_cast<int>(w[2]);
  s.s = static_cast<int>(w[3]);
  s.stride_h = a.stride_h, s.stride_w = a.stride_w;
  s.pad_top = a.pad_top, s.pad_left = a.pad_left, s.pad_bottom = a.pad_bottom, s.pad_right = a.pad_right;
  s.dilation_h = a.dilation_h, s.dilation_w = a.dilation_w;
  s.groups = a.groups;
  return s;
}

kernels::Pool2dShape pool2d_geometry(const Node& n, const Shape& x) {
  const Attrs& a = n.attrs;
  kernels::Pool2dShape p;
  p.n = static_cast<int>(x[0]);
  p.c = static_cast<int>(x[1]);
  p.h = static_cast<int>(x[2]);
  p.w = static_cast<int>(x[3]);
  p.kernel_h = a.kernel_h, p.kernel_w = a.kernel_w;
  p.stride_h = a.stride_h, p.stride_w = a.stride_w;
  p.pad_top = a.pad_top, p.pad_left = a.pad_left, p.pad_bottom = a.pad_bottom, p.pad_right = a.pad_right;
  p.ceil_mode = a.ceil_mode;
  p.count_include_pad = a.count_include_pad;
  return p;
}

namespace {

// Broadcast of the leading (batch-like) dims of two matmul operands.
Shape broadcast_leading(const Node& n, const Shape& a, const Shape& b) {
  Shape la(a.begin(), a.end() - 2), lb(b.begin(), b.end() - 2), out;
  if (!kernels::broadcast_shape(la, lb, out))
    fail(n, fmt::format("leading dims of {} and {} do not broadcast", shape_str(a), shape_str(b)));
  return out;
}

}  // namespace

Shape infer_output_shape(const Graph& g, const Node& n, const std::vector<Shape>& in) {
  (void)g;
  const Attrs& a = n.attrs;
  switch (n.op) {
    case OpKind::Conv2d: {
      expect_inputs(n, in, 2, 4);
      expect_rank(n, in[0], 4, "input");
      expect_rank(n, in[1], 4, "weight");
      kernels::Conv2dShape s = conv2d_geometry(n, in[0], in[1]);
      if (in[1][1] * a.groups != in[0][1])
        fail(n, fmt::format("weight {} with groups={} expects {} input channels, input has shape {}",
                            shape_str(in[1]), a.groups, in[1][1] * a.groups, shape_str(in[0])));
      if (const char* err = kernels::conv2d_shape_error(s)) fail(n, err);
      Shape out{in[0][0], in[1][0], s.out_h(), s.out_w()};
      if (in.size() >= 3 && !in[2].empty() && in[2] != Shape{in[1][0]})
        fail(n, fmt::format("bias has shape {}, expected [{}]", shape_str(in[2]), in[1][0]));
      if (in.size() == 4 && in[3] != out)
        fail(n, fmt::format("residual has shape {}, output is {}", shape_str(in[3]), shape_str(out)));
      return out;
    }
    case OpKind::Linear: {
      expect_inputs(n, in, 2, 3);
      expect_rank(n, in[1], 2, "weight");
      if (in[0].size() < 2 || in[0].back() != in[1][1])
        fail(n, fmt::format("input {} does not end in the weight's {} input features", shape_str(in[0]), in[1][1]));
      if (in.size() == 3 && in[2] != Shape{in[1][0]})
        fail(n, fmt::format("bias has shape {}, expected [{}]", shape_str(in[2]), in[1][0]));
      Shape out = in[0];
      out.back() = in[1][0];
      return out;
    }
    case OpKind::MatMul: {
      expect_inputs(n, in, 2, 2);
      if (in[0].size() < 2 || in[1].size() < 2)
        fail(n, fmt::format("operands must have rank >= 2, got {} and {}", shape_str(in[0]), shape_str(in[1])));
      if (in[0].back() != in[1][in[1].size() - 2])
        fail(n, fmt::format("inner dims differ: {} x {}", shape_str(in[0]), shape_str(in[1])));
      Shape out = broadcast_leading(n, in[0], in[1]);
      out.push_back(in[0][in[0].size() - 2]);
      out.push_back(in[1].back());
      return out;
    }
    case OpKind::ChannelAffine: {
      expect_inputs(n, in, 3, 3);
      if (in[0].size() < 2) fail(n, "input needs a channel dimension");
      if (in[1] != Shape{in[0][1]} || in[2] != Shape{in[0][1]})
        fail(n, fmt::format("scale/shift must be [{}]", in[0][1]));
      return in[0];
    }
    case OpKind::Unary:
    case OpKind::Softmax:
      expect_inputs(n, in, 1, 1);
      return in[0];
    case OpKind::Binary: {
      expect_inputs(n, in, 2, 2);
      Shape out;
      if (!kernels::broadcast_shape(in[0], in[1], out))
        fail(n, fmt::format("shapes {} and {} do not broadcast", shape_str(in[0]), shape_str(in[1])));
      return out;
    }
    case OpKind::MaxPool:
    case OpKind::AvgPool: {
      expect_inputs(n, in, 1, 1);
      expect_rank(n, in[0], 4, "input");
      kernels::Pool2dShape p = pool2d_geometry(n, in[0]);
      if (const char* err = kernels::pool2d_shape_error(p)) fail(n, err);
      return {in[0][0], in[0][1], p.out_h(), p.out_w()};
    }
    case OpKind::GlobalAvgPool:
      expect_inputs(n, in, 1, 1);
      expect_rank(n, in[0], 4, "input");
      return {in[0][0], in[0][1], 1, 1};
    case OpKind::Concat: {
      if (in.empty()) fail(n, "needs at least one input");
      Shape out = in[0];
      if (a.axis < 1 || a.axis >= static_cast<int>(out.size()))
        fail(n, fmt::format("axis {} out of range for rank {} (axis 0 is the batch)", a.axis, out.size()));
      for (size_t i = 1; i < in.size(); ++i) {
        if (in[i].size() != out.size()) fail(n, "inputs differ in rank");
        for (size_t d = 0; d < out.size(); ++d)
          if (static_cast<int>(d) != a.axis && in[i][d] != out[d])
            fail(n, fmt::format("input {} has shape {}, input 0 {}", i, shape_str(in[i]), shape_str(in[0])));
        out[static_cast<size_t>(a.axis)] += in[i][static_cast<size_t>(a.axis)];
      }
      return out;
    }
    case OpKind::Reshape: {
      expect_inputs(n, in, 1, 1);
      Shape out{in[0][0]};
      out.insert(out.end(), a.shape.begin(), a.shape.end());
      if (num_elements(out) != num_elements(in[0]))
        fail(n, fmt::format("cannot reshape {} to {}", shape_str(in[0]), shape_str(out)));
      return out;
    }
    case OpKind::Transpose: {
      expect_inputs(n, in, 1, 1);
      std::vector<int> sorted = a.perm;
      std::sort(sorted.begin(), sorted.end());
      std::vector<int> iota(in[0].size());
      std::iota(iota.begin(), iota.end(), 0);
      if (sorted != iota) fail(n, fmt::format("perm {} is not a permutation of rank {}", a.perm, in[0].size()));
      if (a.perm[0] != 0) fail(n, "moves the batch axis (perm[0] must be 0)");
      Shape out;
      for (int p : a.perm) out.push_back(in[0][static_cast<size_t>(p)]);
      return out;
    }
    case OpKind::Slice: {
      expect_inputs(n, in, 1, 1);
      if (a.axes.size() != a.starts.size() || a.axes.size() != a.ends.size() || a.axes.size() != a.steps.size())
        fail(n, "axes, starts, ends and steps differ in length");
      Shape out = in[0];
      for (size_t i = 0; i < a.axes.size(); ++i) {
        int ax = a.axes[i];
        if (ax < 1 || ax >= static_cast<int>(out.size())) fail(n, fmt::format("axis {} cannot be sliced", ax));
        if (a.steps[i] <= 0) fail(n, "only positive slice steps are supported");
        int64_t dim = out[static_cast<size_t>(ax)];
        if (a.starts[i] < 0 || a.starts[i] > dim || a.ends[i] > dim)
          fail(n, fmt::format("slice [{}, {}) of axis {} is not within [0, {}]", a.starts[i], a.ends[i], ax, dim));
        int64_t len = a.ends[i] - a.starts[i];
        out[static_cast<size_t>(ax)] = len <= 0 ? 0 : (len + a.steps[i] - 1) / a.steps[i];
      }
      return out;
    }
    case OpKind::Pad: {
      expect_inputs(n, in, 1, 1);
      if (a.pads_begin.size() != in[0].size() || a.pads_end.size() != in[0].size())
        fail(n, "pads must name every axis");
      if (a.pads_begin[0] != 0 || a.pads_end[0] != 0) fail(n, "cannot pad the batch axis");
      Shape out = in[0];
      for (size_t d = 0; d < out.size(); ++d) {
        if (a.pads_begin[d] < 0 || a.pads_end[d] < 0) fail(n, "negative pads are not supported");
        out[d] += a.pads_begin[d] + a.pads_end[d];
      }
      return out;
    }
    case OpKind::Gather: {
      expect_inputs(n, in, 1, 1);
      if (a.axis < 1 || a.axis >= static_cast<int>(in[0].size()))
        fail(n, fmt::format("axis {} cannot be gathered (axis 0 is the batch)", a.axis));
      int64_t dim = in[0][static_cast<size_t>(a.axis)];
      for (int64_t i : a.indices)
        if (i < 0 || i >= dim) fail(n, fmt::format("index {} out of range [0, {})", i, dim));
      Shape out = in[0];
      if (a.keepdims) {
        out[static_cast<size_t>(a.axis)] = static_cast<int64_t>(a.indices.size());
      } else {
        if (a.indices.size() != 1) fail(n, "a scalar gather takes exactly one index");
        out.erase(out.begin() + a.axis);
      }
      return out;
    }
    case OpKind::Embedding: {
      expect_inputs(n, in, 2, 2);
      expect_rank(n, in[0], 2, "table");
      Shape out = in[1];
      out.push_back(in[0][1]);
      return out;
    }
    case OpKind::LayerNorm: {
      expect_inputs(n, in, 1, 3);
      for (size_t i = 1; i < in.size(); ++i)
        if (in[i] != Shape{in[0].back()})
          fail(n, fmt::format("gamma/beta must be [{}], got {}", in[0].back(), shape_str(in[i])));
      return in[0];
    }
    case OpKind::ReduceMean: {
      expect_inputs(n, in, 1, 1);
      std::vector<int> axes = a.axes;
      std::sort(axes.begin(), axes.end());
      // One contiguous run of axes: that is what the executor's [outer, reduce, inner] view handles.
      for (size_t i = 0; i < axes.size(); ++i) {
        if (axes[i] < 1 || axes[i] >= static_cast<int>(in[0].size())) fail(n, fmt::format("axis {} cannot be reduced", axes[i]));
        if (i > 0 && axes[i] != axes[i - 1] + 1) fail(n, "reduced axes must be contiguous");
      }
      if (axes.empty()) fail(n, "needs at least one axis");
      Shape out;
      for (size_t d = 0; d < in[0].size(); ++d) {
        bool reduced = std::find(axes.begin(), axes.end(), static_cast<int>(d)) != axes.end();
        if (!reduced)
          out.push_back(in[0][d]);
        else if (a.keepdims)
          out.push_back(1);
      }
      return out;
    }
  }
  fail(n, "unknown op");
}

int Graph::add_input(const std::string& name, Shape per_sample_shape) {
  for (int64_t d : per_sample_shape)
    if (d <= 0) throw GraphError(fmt::format("input '{}' has a non-positive dim: {}", name, shape_str(per_sample_shape)));
  values_.push_back(Value{name, std::move(per_sample_shape), false, nullptr});
  inputs_.push_back(static_cast<int>(values_.size() - 1));
  return inputs_.back();
}

int Graph::add_constant(const std::string& name, Shape shape, std::vector<float> data) {
  if (num_elements(shape) != static_cast<int64_t>(data.size()))
    throw GraphError(fmt::format("constant '{}' of shape {} has {} values", name, shape_str(shape), data.size()));
  values_.push_back(Value{name, std::move(shape), true, std::make_shared<const std::vector<float>>(std::move(data))});
  return static_cast<int>(values_.size() - 1);
}

int Graph::add_constant_shape(const std::string& name, Shape shape) {
  values_.push_back(Value{name, std::move(shape), true, nullptr});
  return static_cast<int>(values_.size() - 1);
}

int Graph::add_node(const std::string& name, OpKind op, std::vector<int> inputs, Attrs attrs) {
  Node n{name, op, std::move(inputs), -1, std::move(attrs)};
  bool any_activation = false;
  for (int id : n.inputs) {
    if (id < 0 || id >= static_cast<int>(values_.size())) fail(n, fmt::format("input value {} does not exist", id));
    any_activation = any_activation || !values_[static_cast<size_t>(id)].constant;
  }
  if (!any_activation) fail(n, "every input is a constant (fold it before building the graph)");

  // Infer at two batch sizes: a shape that only works at batch 1 (a constant broadcasting over
  // the batch axis) is caught here rather than at run time.
  Shape per_sample;
  for (int64_t batch : {int64_t{1}, int64_t{3}}) {
    std::vector<Shape> full;
    for (int id : n.inputs) full.push_back(full_shape(values_[static_cast<size_t>(id)], batch));
    Shape out = infer_output_shape(*this, n, full);
    if (out.empty() || out[0] != batch)
      fail(n, fmt::format("output {} does not keep the batch ({}) as its first dim", shape_str(out), batch));
    Shape ps(out.begin() + 1, out.end());
    if (batch == 1)
      per_sample = ps;
    else if (ps != per_sample)
      fail(n, "output shape depends on the batch size beyond its first dim");
  }
  for (int64_t d : per_sample)
    if (d <= 0) fail(n, fmt::format("output has an empty dim: {}", shape_str(per_sample)));

  values_.push_back(Value{name, std::move(per_sample), false, nullptr});
  n.output = static_cast<int>(values_.size() - 1);
  nodes_.push_back(std::move(n));
  return nodes_.back().output;
}

void Graph::mark_output(int value) {
  if (value < 0 || value >= static_cast<int>(values_.size()) || values_[static_cast<size_t>(value)].constant)
    throw GraphError(fmt::format("value {} cannot be a graph output", value));
  outputs_.push_back(value);
}

int64_t Graph::constant_elements() const {
  int64_t total = 0;
  for (const Value& v : values_)
    if (v.constant) total += num_elements(v.shape);
  return total;
}

}  // namespace dstack::models
