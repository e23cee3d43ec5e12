#include "models/plan.h"

#include <fmt/format.h>

#include <algorithm>

namespace dstack::models {

int64_t Plan::total_flops() const {
  int64_t t = 0;
  for (const auto& k : kernels) t += k.flops;
  return t;
}

int64_t Plan::total_bytes() const {
  int64_t t = 0;
  for (const auto& k : kernels) t += k.bytes_read + k.bytes_written;
  return t;
}

int64_t flop_count(const Node& n, const std::vector<Shape>& in, const Shape& out) {
  const int64_t out_elems = num_elements(out);
  switch (n.op) {
    case OpKind::Conv2d: {
      // 2 per multiply-add over the filter window of one group's input channels.
      const int64_t window = in[1][1] * in[1][2] * in[1][3];
      return 2 * out_elems * window;
    }
    case OpKind::Linear: return 2 * out_elems * in[1][1];
    case OpKind::MatMul: return 2 * out_elems * in[0].back();
    case OpKind::ChannelAffine: return 2 * out_elems;
    case OpKind::Unary:
    case OpKind::Binary: return out_elems;
    case OpKind::MaxPool:
    case OpKind::AvgPool: return out_elems * n.attrs.kernel_h * n.attrs.kernel_w;
    case OpKind::GlobalAvgPool: return num_elements(in[0]);
    case OpKind::Softmax: return 5 * out_elems;     // max, subtract, exp, sum, divide
    case OpKind::LayerNorm: return 8 * out_elems;   // mean, variance, normalize, scale, shift
    case OpKind::ReduceMean: return num_elements(in[0]);
    case OpKind::Concat:
    case OpKind::Reshape:
    case OpKind::Transpose:
    case OpKind::Slice:
    case OpKind::Pad:
    case OpKind::Gather:
    case OpKind::Embedding: return 0;
  }
  return 0;
}

namespace {

std::string describe(const Node& n, const std::vector<Shape>& in) {
  const Attrs& a = n.attrs;
  std::string act = a.act.kind == Activation::None ? "" : fmt::format(" {}", kernels::activation_name(a.act.kind));
  switch (n.op) {
    case OpKind::Conv2d:
      return fmt::format("{}x{}/{} g{}{}{}", a.kernel_h, a.kernel_w, a.stride_h, a.groups, act,
                         in.size() == 4 ? " +res" : "");
    case OpKind::Linear: return fmt::format("{}->{}{}", in[1][1], in[1][0], act);
    case OpKind::MatMul: return fmt::format("{}x{}", shape_str(in[0]), shape_str(in[1]));
    case OpKind::Unary:
      return a.unary == UnaryOp::Activation ? std::string(kernels::activation_name(a.act.kind))
                                            : std::string(kernels::unary_op_name(a.unary));
    case OpKind::Binary: return std::string(kernels::binary_op_name(a.binary));
    case OpKind::MaxPool:
    case OpKind::AvgPool: return fmt::format("{}x{}/{}", a.kernel_h, a.kernel_w, a.stride_h);
    default: return "";
  }
}

}  // namespace

Plan lower(const Graph& g, int64_t batch) {
  if (batch < 1) throw GraphError(fmt::format("batch must be >= 1, got {}", batch));
  Plan plan;
  plan.model = g.name();
  plan.batch = batch;
  // For each value: the launch that produced its data (-1: a graph input or a constant).
  std::vector<int> producer(g.values().size(), -1);
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    std::vector<Shape> in;
    std::vector<int> deps;
    int64_t bytes_in = 0;
    for (int id : n.inputs) {
      in.push_back(full_shape(g.value(id), batch));
      int p = producer[static_cast<size_t>(id)];
      if (p >= 0 && std::find(deps.begin(), deps.end(), p) == deps.end()) deps.push_back(p);
    }
    Shape out = full_shape(g.value(n.output), batch);
    if (n.op == OpKind::Reshape) {
      producer[static_cast<size_t>(n.output)] = producer[static_cast<size_t>(n.inputs[0])];
      continue;
    }
    for (const Shape& s : in) bytes_in += 4 * num_elements(s);
    if (n.op == OpKind::Embedding) bytes_in = 4 * (num_elements(in[1]) + num_elements(out));  // rows gathered, not the table
    KernelLaunch k;
    k.node = static_cast<int>(i);
    k.name = n.name;
    k.op = n.op;
    k.detail = describe(n, in);
    k.flops = flop_count(n, in, out);
    k.bytes_read = bytes_in;
    k.bytes_written = 4 * num_elements(out);
    k.input_shapes = std::move(in);
    k.output_shape = std::move(out);
    std::sort(deps.begin(), deps.end());
    k.deps = std::move(deps);
    plan.kernels.push_back(std::move(k));
    producer[static_cast<size_t>(n.output)] = static_cast<int>(plan.kernels.size() - 1);
  }
  return plan;
}

}  // namespace dstack::models
