#include "runtime/backend/cpu/cpu_executor.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "kernels/conv2d.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/normalization.h"
#include "kernels/pooling.h"
#include "kernels/tensor_ops.h"
#include "models/node_args.h"

namespace dstack {
namespace {

// Graphs, shapes, and the node-to-kernel-argument mapping both executors share.
using namespace models;

int64_t product(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= s[i];
  return p;
}

void matmul(const TensorView& a, const TensorView& b, float alpha, Tensor& y) {
  const MatMulPlan p = matmul_plan(a.shape, b.shape, y.shape);
  for (size_t i = 0; i < p.offset_a.size(); ++i)
    kernels::batched_matmul_ref(1, p.m, p.n, p.k, a.data + p.offset_a[i], 0, b.data + p.offset_b[i], 0, alpha,
                                y.data.data() + static_cast<int64_t>(i) * p.m * p.n, 0);
}

void run_node(const Node& n, const std::vector<TensorView>& in, Tensor& y) {
  const Attrs& a = n.attrs;
  float* out = y.data.data();
  switch (n.op) {
    case OpKind::Conv2d: {
      kernels::Conv2dShape s = models::conv2d_geometry(n, in[0].shape, in[1].shape);
      const float* bias = in.size() >= 3 ? in[2].data : nullptr;
      const float* residual = in.size() == 4 ? in[3].data : nullptr;
      kernels::conv2d_ref(s, in[0].data, in[1].data, bias, residual, a.act, out);
      return;
    }
    case OpKind::Linear: {
      const int k = static_cast<int>(in[1].shape[1]), nout = static_cast<int>(in[1].shape[0]);
      const int rows = static_cast<int>(models::num_elements(in[0].shape) / k);
      kernels::gemm_ref(rows, nout, k, in[0].data, in[1].data, true, 1.f,
                        in.size() == 3 ? in[2].data : nullptr, a.act, out);
      return;
    }
    case OpKind::MatMul: matmul(in[0], in[1], a.alpha, y); return;
    case OpKind::ChannelAffine: {
      const Shape& s = in[0].shape;
      kernels::channel_affine_ref(static_cast<int>(s[0]), static_cast<int>(s[1]), product(s, 2, s.size()),
                                  in[0].data, in[1].data, in[2].data, a.act, out);
      return;
    }
    case OpKind::Unary:
      kernels::unary_ref(a.unary, a.act, models::num_elements(y.shape), in[0].data, out);
      return;
    case OpKind::Binary:
      kernels::binary_ref(a.binary, in[0].shape, in[0].data, in[1].shape, in[1].data, y.shape, out);
      return;
    case OpKind::MaxPool: kernels::maxpool2d_ref(models::pool2d_geometry(n, in[0].shape), in[0].data, out); return;
    case OpKind::AvgPool: kernels::avgpool2d_ref(models::pool2d_geometry(n, in[0].shape), in[0].data, out); return;
    case OpKind::GlobalAvgPool: {
      const Shape& s = in[0].shape;
      kernels::global_avgpool_ref(static_cast<int>(s[0]), static_cast<int>(s[1]), static_cast<int>(s[2] * s[3]),
                                  in[0].data, out);
      return;
    }
    case OpKind::Concat: {
      std::vector<Shape> shapes;
      std::vector<const float*> ptrs;
      for (const TensorView& v : in) {
        shapes.push_back(v.shape);
        ptrs.push_back(v.data);
      }
      kernels::concat_ref(shapes, ptrs, a.axis, out);
      return;
    }
    case OpKind::Reshape: std::copy(in[0].data, in[0].data + y.data.size(), out); return;
    case OpKind::Transpose: kernels::transpose_ref(in[0].shape, a.perm, in[0].data, out); return;
    case OpKind::Slice: {
      const SliceBounds b = slice_bounds(n, in[0].shape);
      kernels::slice_ref(in[0].shape, b.starts, b.ends, b.steps, in[0].data, out);
      return;
    }
    case OpKind::Pad:
      kernels::pad_ref(in[0].shape, a.pads_begin, a.pads_end, a.pad_value, in[0].data, out);
      return;
    case OpKind::Gather: kernels::gather_axis_ref(in[0].shape, a.axis, a.indices, in[0].data, out); return;
    case OpKind::Embedding: {
      const Shape& table = in[0].shape;
      int64_t bad = kernels::gather_rows_ref(table[0], table[1], in[0].data, models::num_elements(in[1].shape),
                                             in[1].data, out);
      if (bad >= 0)
        throw models::GraphError(fmt::format("node '{}' (Embedding): id {} at position {} is outside the table's {} rows",
                                             n.name, in[1].data[bad], bad, table[0]));
      return;
    }
    case OpKind::Softmax: {
      const RowView v = last_axis_rows(y.shape);
      kernels::softmax_ref(v.rows, v.cols, in[0].data, out);
      return;
    }
    case OpKind::LayerNorm: {
      const RowView v = last_axis_rows(y.shape);
      kernels::layernorm_ref(v.rows, v.cols, in[0].data,
                             in.size() > 1 ? in[1].data : nullptr, in.size() > 2 ? in[2].data : nullptr,
                             a.epsilon, out);
      return;
    }
    case OpKind::ReduceMean: {
      const ReduceView v = reduce_view(n, in[0].shape);
      kernels::reduce_mean_ref(v.outer, v.reduce, v.inner, in[0].data, out);
      return;
    }
  }
  throw models::GraphError(fmt::format("node '{}': the CPU executor has no kernel for {}", n.name, models::op_name(n.op)));
}

}  // namespace

std::vector<Tensor> run_cpu(const Graph& g, const std::vector<Tensor>& inputs) {
  if (inputs.size() != g.inputs().size())
    throw std::invalid_argument(fmt::format("model '{}' takes {} input(s), {} given", g.name(), g.inputs().size(), inputs.size()));
  if (inputs.empty() || inputs[0].shape.empty())
    throw std::invalid_argument(fmt::format("model '{}': the input needs a batch dimension", g.name()));
  const int64_t batch = inputs[0].shape[0];
  std::vector<Tensor> values(g.values().size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const models::Value& v = g.value(g.inputs()[i]);
    Shape want = models::full_shape(v, batch);
    if (inputs[i].shape != want)
      throw std::invalid_argument(fmt::format("input '{}' has shape {}, the model expects {} (batch first)", v.name,
                                              models::shape_str(inputs[i].shape), models::shape_str(want)));
    if (static_cast<int64_t>(inputs[i].data.size()) != models::num_elements(want))
      throw std::invalid_argument(fmt::format("input '{}' holds {} values for shape {}", v.name, inputs[i].data.size(),
                                              models::shape_str(want)));
    values[static_cast<size_t>(g.inputs()[i])] = inputs[i];
  }

  // Free each activation after its last reader, so large batches fit in memory.
  std::vector<size_t> last_use(g.values().size(), 0);
  for (size_t i = 0; i < g.nodes().size(); ++i)
    for (int id : g.nodes()[i].inputs) last_use[static_cast<size_t>(id)] = i;
  std::vector<bool> is_output(g.values().size(), false);
  for (int id : g.outputs()) is_output[static_cast<size_t>(id)] = true;

  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    std::vector<TensorView> in;
    std::vector<Shape> shapes;
    for (int id : n.inputs) {
      const models::Value& v = g.value(id);
      if (v.constant && !v.data)
        throw std::invalid_argument(fmt::format("model '{}' was built without weights (constant '{}' has no data)",
                                                g.name(), v.name));
      if (v.constant)
        in.push_back(TensorView{v.shape, v.data->data()});
      else
        in.push_back(TensorView{values[static_cast<size_t>(id)].shape, values[static_cast<size_t>(id)].data.data()});
      shapes.push_back(in.back().shape);
    }
    Tensor& y = values[static_cast<size_t>(n.output)];
    y.shape = models::infer_output_shape(g, n, shapes);
    y.data.assign(static_cast<size_t>(models::num_elements(y.shape)), 0.f);
    run_node(n, in, y);
    for (int id : n.inputs) {
      auto u = static_cast<size_t>(id);
      if (!g.value(id).constant && last_use[u] == i && !is_output[u]) Tensor().data.swap(values[u].data);
    }
  }

  std::vector<Tensor> outputs;
  for (int id : g.outputs()) outputs.push_back(values[static_cast<size_t>(id)]);
  return outputs;
}

}  // namespace dstack
