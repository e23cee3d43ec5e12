#include "models/plan.h"

#include <fmt/format.h>

#include <algorithm>

#include "kernels/conv2d.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/normalization.h"
#include "kernels/pooling.h"
#include "kernels/tensor_ops.h"
#include "models/node_args.h"

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

Plan lower(const Graph& g, int64_t batch, kernels::Precision precision) {
  if (batch < 1) throw GraphError(fmt::format("batch must be >= 1, got {}", batch));
  Plan plan;
  plan.model = g.name();
  plan.batch = batch;
  plan.precision = precision;
  const int64_t eb = kernels::element_bytes(precision);
  constexpr int64_t kIdBytes = 4;  // embedding ids stay fp32 at every precision
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
    for (const Shape& s : in) bytes_in += eb * num_elements(s);
    // Embedding reads its ids and the rows gathered, not the whole table.
    if (n.op == OpKind::Embedding) bytes_in = kIdBytes * num_elements(in[1]) + eb * num_elements(out);
    KernelLaunch k;
    k.node = static_cast<int>(i);
    k.name = n.name;
    k.op = n.op;
    k.detail = describe(n, in);
    k.flops = flop_count(n, in, out);
    k.launches = cuda_launches(n, in, out, precision);
    k.bytes_read = bytes_in;
    k.bytes_written = eb * num_elements(out);
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

namespace dstack::models {
namespace {

int64_t product(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= s[i];
  return p;
}

}  // namespace

std::vector<kernels::LaunchGeometry> cuda_launches(const Node& n, const std::vector<Shape>& in, const Shape& out,
                                                   kernels::Precision p) {
  using namespace kernels;
  const Attrs& a = n.attrs;
  const int64_t out_count = num_elements(out);
  std::vector<LaunchGeometry> l;
  switch (n.op) {
    case OpKind::Conv2d: l.push_back(conv2d_launch(conv2d_geometry(n, in[0], in[1]), p)); break;
    case OpKind::Linear: {
      const int k = static_cast<int>(in[1][1]);
      l.push_back(gemm_launch(static_cast<int>(num_elements(in[0]) / k), static_cast<int>(in[1][0]), k, p));
      break;
    }
    case OpKind::MatMul: {
      // As the GPU executor dispatches: one batched launch when the operands step uniformly.
      const MatMulPlan mp = matmul_plan(in[0], in[1], out);
      if (mp.uniform)
        l.push_back(batched_matmul_launch(static_cast<int>(mp.offset_a.size()), mp.m, mp.n, mp.k, p));
      else
        l.assign(mp.offset_a.size(), batched_matmul_launch(1, mp.m, mp.n, mp.k, p));
      break;
    }
    case OpKind::ChannelAffine:
      l.push_back(channel_affine_launch(static_cast<int>(in[0][0]), static_cast<int>(in[0][1]),
                                        num_elements(in[0]) / (in[0][0] * in[0][1]), p));
      break;
    case OpKind::Unary: l.push_back(unary_launch(out_count, p)); break;
    case OpKind::Binary: l.push_back(binary_launch(in[0], in[1], out, p)); break;
    case OpKind::MaxPool: l.push_back(maxpool2d_launch(pool2d_geometry(n, in[0]), p)); break;
    case OpKind::AvgPool: l.push_back(avgpool2d_launch(pool2d_geometry(n, in[0]), p)); break;
    case OpKind::GlobalAvgPool:
      l.push_back(global_avgpool_launch(static_cast<int>(in[0][0]), static_cast<int>(in[0][1]),
                                        static_cast<int>(in[0][2] * in[0][3]), p));
      break;
    case OpKind::Concat: {
      const auto ax = static_cast<size_t>(a.axis);
      for (const Shape& s : in)
        l.push_back(concat_launch(product(s, 0, ax) * s[ax] * product(s, ax + 1, s.size()), p));
      break;
    }
    case OpKind::Reshape: break;  // no kernel: the data is aliased (copied on the GPU executor)
    case OpKind::Transpose: l.push_back(transpose_launch(out_count, p)); break;
    case OpKind::Slice: l.push_back(slice_launch(out_count, p)); break;
    case OpKind::Pad: l.push_back(pad_launch(out_count, p)); break;
    case OpKind::Gather: {
      const auto ax = static_cast<size_t>(a.axis);
      const int64_t outer = product(in[0], 0, ax), inner = product(in[0], ax + 1, in[0].size());
      const auto total = static_cast<int64_t>(a.indices.size());
      for (int64_t first = 0; first < total; first += kGatherAxisChunk)
        l.push_back(gather_axis_launch(outer, std::min<int64_t>(kGatherAxisChunk, total - first), inner, p));
      break;
    }
    case OpKind::Embedding: {
      const int64_t count = num_elements(in[1]);
      l.push_back(gather_rows_check_launch(count));
      l.push_back(gather_rows_copy_launch(count, in[0][1], p));
      break;
    }
    case OpKind::Softmax: {
      const RowView v = last_axis_rows(out);
      l.push_back(softmax_launch(v.rows, v.cols, p));
      break;
    }
    case OpKind::LayerNorm: {
      const RowView v = last_axis_rows(out);
      l.push_back(layernorm_launch(v.rows, v.cols, p));
      break;
    }
    case OpKind::ReduceMean: {
      const ReduceView v = reduce_view(n, in[0]);
      l.push_back(reduce_mean_launch(v.outer, v.reduce, v.inner, p));
      break;
    }
  }
  // Zero-size work launches nothing (every launcher skips an empty grid).
  std::erase_if(l, [](const LaunchGeometry& g) { return g.grid.count() == 0; });
  return l;
}

}  // namespace dstack::models
