// run_gpu: one launch per plan kernel on one stream, weights uploaded once per call, each
// activation freed after its last reader. Node attributes become kernel arguments through the same
// functions the CPU executor uses (models::conv2d_geometry, node_args.h).
#include "runtime/backend/gpu_executor.h"

#include <fmt/format.h>

#include <optional>
#include <stdexcept>

#include "kernels/conv2d_cuda.h"
#include "kernels/elementwise_cuda.h"
#include "kernels/gemm_cuda.h"
#include "kernels/normalization_cuda.h"
#include "kernels/pooling_cuda.h"
#include "kernels/tensor_ops_cuda.h"
#include "runtime/backend/cuda/check.h"
#include "runtime/backend/cuda/driver_api.h"
#include "runtime/backend/cuda/resources.h"
#include "models/node_args.h"

namespace dstack {
namespace {

// Graphs, shapes, and the node-to-kernel-argument mapping both executors share.
using namespace models;

struct DeviceTensor {
  Shape shape;
  cuda::DeviceBuffer buffer;
  float* data() const { return buffer.as<float>(); }
};

DeviceTensor upload(const Shape& shape, const float* host, cudaStream_t stream) {
  DeviceTensor t{shape, cuda::DeviceBuffer(sizeof(float) * static_cast<size_t>(models::num_elements(shape)))};
  if (t.buffer.bytes() > 0)
    DSTACK_CUDA_CHECK(cudaMemcpyAsync(t.buffer.data(), host, t.buffer.bytes(), cudaMemcpyHostToDevice, stream));
  return t;
}

void launch(const Node& n, const std::vector<TensorView>& in, DeviceTensor& y, int* bad_id, cudaStream_t stream) {
  const Attrs& a = n.attrs;
  float* out = y.data();
  switch (n.op) {
    case OpKind::Conv2d:
      kernels::conv2d_cuda(models::conv2d_geometry(n, in[0].shape, in[1].shape), in[0].data, in[1].data,
                           in.size() >= 3 ? in[2].data : nullptr, in.size() == 4 ? in[3].data : nullptr, a.act, out,
                           stream);
      return;
    case OpKind::Linear: {
      const int k = static_cast<int>(in[1].shape[1]), nout = static_cast<int>(in[1].shape[0]);
      const int rows = static_cast<int>(models::num_elements(in[0].shape) / k);
      kernels::gemm_cuda(rows, nout, k, in[0].data, in[1].data, true, 1.f, in.size() == 3 ? in[2].data : nullptr, a.act,
                         out, stream);
      return;
    }
    case OpKind::MatMul: {
      const MatMulPlan p = matmul_plan(in[0].shape, in[1].shape, y.shape);
      const int64_t mn = int64_t{p.m} * p.n;
      if (p.uniform) {
        kernels::batched_matmul_cuda(static_cast<int>(p.offset_a.size()), p.m, p.n, p.k, in[0].data, p.stride_a,
                                     in[1].data, p.stride_b, a.alpha, out, mn, stream);
      } else {
        for (size_t i = 0; i < p.offset_a.size(); ++i)
          kernels::batched_matmul_cuda(1, p.m, p.n, p.k, in[0].data + p.offset_a[i], 0, in[1].data + p.offset_b[i], 0,
                                       a.alpha, out + static_cast<int64_t>(i) * mn, 0, stream);
      }
      return;
    }
    case OpKind::ChannelAffine: {
      const Shape& s = in[0].shape;
      kernels::channel_affine_cuda(static_cast<int>(s[0]), static_cast<int>(s[1]),
                                   models::num_elements(s) / (s[0] * s[1]), in[0].data, in[1].data, in[2].data, a.act,
                                   out, stream);
      return;
    }
    case OpKind::Unary:
      kernels::unary_cuda(a.unary, a.act, models::num_elements(y.shape), in[0].data, out, stream);
      return;
    case OpKind::Binary:
      kernels::binary_cuda(a.binary, in[0].shape, in[0].data, in[1].shape, in[1].data, y.shape, out, stream);
      return;
    case OpKind::MaxPool:
      kernels::maxpool2d_cuda(models::pool2d_geometry(n, in[0].shape), in[0].data, out, stream);
      return;
    case OpKind::AvgPool:
      kernels::avgpool2d_cuda(models::pool2d_geometry(n, in[0].shape), in[0].data, out, stream);
      return;
    case OpKind::GlobalAvgPool: {
      const Shape& s = in[0].shape;
      kernels::global_avgpool_cuda(static_cast<int>(s[0]), static_cast<int>(s[1]), static_cast<int>(s[2] * s[3]),
                                   in[0].data, out, stream);
      return;
    }
    case OpKind::Concat: {
      std::vector<Shape> shapes;
      std::vector<const float*> ptrs;
      for (const TensorView& v : in) {
        shapes.push_back(v.shape);
        ptrs.push_back(v.data);
      }
      kernels::concat_cuda(shapes, ptrs, a.axis, out, stream);
      return;
    }
    case OpKind::Reshape:
      DSTACK_CUDA_CHECK(cudaMemcpyAsync(out, in[0].data, y.buffer.bytes(), cudaMemcpyDeviceToDevice, stream));
      return;
    case OpKind::Transpose: kernels::transpose_cuda(in[0].shape, a.perm, in[0].data, out, stream); return;
    case OpKind::Slice: {
      const SliceBounds b = slice_bounds(n, in[0].shape);
      kernels::slice_cuda(in[0].shape, b.starts, b.ends, b.steps, in[0].data, out, stream);
      return;
    }
    case OpKind::Pad:
      kernels::pad_cuda(in[0].shape, a.pads_begin, a.pads_end, a.pad_value, in[0].data, out, stream);
      return;
    case OpKind::Gather: kernels::gather_axis_cuda(in[0].shape, a.axis, a.indices, in[0].data, out, stream); return;
    case OpKind::Embedding:
      kernels::gather_rows_cuda(in[0].shape[0], in[0].shape[1], in[0].data, models::num_elements(in[1].shape),
                                in[1].data, out, bad_id, stream);
      return;
    case OpKind::Softmax: {
      const RowView v = last_axis_rows(y.shape);
      kernels::softmax_cuda(v.rows, v.cols, in[0].data, out, stream);
      return;
    }
    case OpKind::LayerNorm: {
      const RowView v = last_axis_rows(y.shape);
      kernels::layernorm_cuda(v.rows, v.cols, in[0].data, in.size() > 1 ? in[1].data : nullptr,
                              in.size() > 2 ? in[2].data : nullptr, a.epsilon, out, stream);
      return;
    }
    case OpKind::ReduceMean: {
      const ReduceView v = reduce_view(n, in[0].shape);
      kernels::reduce_mean_cuda(v.outer, v.reduce, v.inner, in[0].data, out, stream);
      return;
    }
  }
  throw models::GraphError(fmt::format("node '{}': no CUDA kernel for {}", n.name, models::op_name(n.op)));
}

}  // namespace

std::vector<Tensor> run_gpu(const Graph& g, const std::vector<Tensor>& inputs, GpuRunStats* stats) {
  cuda::driver();  // throws DriverUnavailable with the reason when there is no GPU
  if (inputs.size() != g.inputs().size())
    throw std::invalid_argument(fmt::format("model '{}' takes {} input(s), {} given", g.name(), g.inputs().size(), inputs.size()));
  if (inputs.empty() || inputs[0].shape.empty())
    throw std::invalid_argument(fmt::format("model '{}': the input needs a batch dimension", g.name()));
  const int64_t batch = inputs[0].shape[0];

  cuda::Stream stream;
  std::vector<std::optional<DeviceTensor>> values(g.values().size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const models::Value& v = g.value(g.inputs()[i]);
    const Shape want = models::full_shape(v, batch);
    if (inputs[i].shape != want || static_cast<int64_t>(inputs[i].data.size()) != models::num_elements(want))
      throw std::invalid_argument(fmt::format("input '{}' has shape {}, the model expects {} (batch first)", v.name,
                                              models::shape_str(inputs[i].shape), models::shape_str(want)));
    values[static_cast<size_t>(g.inputs()[i])] = upload(want, inputs[i].data.data(), stream.get());
  }
  for (size_t id = 0; id < g.values().size(); ++id) {
    const models::Value& v = g.value(static_cast<int>(id));
    if (!v.constant) continue;
    if (!v.data)
      throw std::invalid_argument(fmt::format("model '{}' was built without weights (constant '{}' has no data)",
                                              g.name(), v.name));
    values[id] = upload(v.shape, v.data->data(), stream.get());
  }

  std::vector<size_t> last_use(g.values().size(), 0);
  for (size_t i = 0; i < g.nodes().size(); ++i)
    for (int id : g.nodes()[i].inputs) last_use[static_cast<size_t>(id)] = i;
  std::vector<bool> keep(g.values().size(), false);
  for (int id : g.outputs()) keep[static_cast<size_t>(id)] = true;

  cuda::DeviceBuffer bad_id(sizeof(int));
  const int none = -1;
  DSTACK_CUDA_CHECK(cudaMemcpyAsync(bad_id.data(), &none, sizeof(int), cudaMemcpyHostToDevice, stream.get()));
  cuda::Event start, stop;
  start.record(stream.get());
  int launched = 0;
  int embedding_node = -1;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    std::vector<TensorView> in;
    std::vector<Shape> shapes;
    for (int id : n.inputs) {
      const DeviceTensor& t = *values[static_cast<size_t>(id)];
      in.push_back(TensorView{t.shape, t.data()});
      shapes.push_back(t.shape);
    }
    const Shape out_shape = models::infer_output_shape(g, n, shapes);
    DeviceTensor y{out_shape, cuda::DeviceBuffer(sizeof(float) * static_cast<size_t>(models::num_elements(out_shape)))};
    if (n.op == OpKind::Embedding) embedding_node = static_cast<int>(i);
    launch(n, in, y, bad_id.as<int>(), stream.get());
    launched += n.op == OpKind::Reshape ? 0 : 1;
    values[static_cast<size_t>(n.output)] = std::move(y);
    for (int id : n.inputs) {
      const auto u = static_cast<size_t>(id);
      // Freeing is stream-ordered enough here: cudaFree waits for the device to finish using it.
      if (!g.value(id).constant && last_use[u] == i && !keep[u]) values[u].reset();
    }
  }
  stop.record(stream.get());
  stop.synchronize();

  int bad = -1;
  DSTACK_CUDA_CHECK(cudaMemcpy(&bad, bad_id.data(), sizeof(int), cudaMemcpyDeviceToHost));
  if (bad >= 0)
    throw models::GraphError(fmt::format("node '{}' (Embedding): the id at position {} is outside the table",
                                         g.nodes()[static_cast<size_t>(embedding_node)].name, bad));
  if (stats) {
    stats->milliseconds = stop.elapsed_ms_since(start);
    stats->kernels = launched;
  }

  std::vector<Tensor> outputs;
  for (int id : g.outputs()) {
    const DeviceTensor& t = *values[static_cast<size_t>(id)];
    Tensor host{t.shape, std::vector<float>(static_cast<size_t>(models::num_elements(t.shape)))};
    DSTACK_CUDA_CHECK(cudaMemcpy(host.data.data(), t.data(), t.buffer.bytes(), cudaMemcpyDeviceToHost));
    outputs.push_back(std::move(host));
  }
  return outputs;
}

}  // namespace dstack
