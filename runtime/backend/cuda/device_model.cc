// DeviceModel: weights block + per-batch activation arena (plan_memory), typed launches of every
// node at the run's precision, per-kernel and CUDA-graph dispatch.
#include "runtime/backend/cuda/device_model.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <fmt/format.h>

#include <map>
#include <optional>
#include <stdexcept>

#include "kernels/conv2d_cuda.h"
#include "kernels/convert_cuda.h"
#include "kernels/elementwise_cuda.h"
#include "kernels/gemm_cuda.h"
#include "kernels/normalization_cuda.h"
#include "kernels/pooling_cuda.h"
#include "kernels/tensor_ops_cuda.h"
#include "models/node_args.h"
#include "runtime/backend/cuda/check.h"
#include "runtime/backend/cuda/driver_api.h"
#include "runtime/backend/cuda/resources.h"
#include "runtime/backend/cuda/unique_handle.h"
#ifdef DSTACK_HAVE_VENDOR
#include "runtime/backend/cuda/vendor_ops.h"
#endif

namespace dstack::cuda {
namespace {

using models::Graph;
using models::Node;
using models::OpKind;
using models::Shape;
using kernels::Precision;

struct DestroyGraphExec {
  void operator()(cudaGraphExec_t g) const noexcept { cudaGraphExecDestroy(g); }
};
struct DestroyGraph {
  void operator()(cudaGraph_t g) const noexcept { cudaGraphDestroy(g); }
};
using GraphExec = UniqueHandle<cudaGraphExec_t, DestroyGraphExec>;

// A device tensor of storage type T: full shape and a pointer into the weight block or the arena.
template <typename T>
struct View {
  Shape shape;
  T* data;
};

// Launches node n with dstack's kernels. `ids` is the float32 ids input of an Embedding.
template <typename T>
void launch_ours(const Node& n, const std::vector<View<T>>& in, const float* ids, const View<T>& y, int* bad_id,
                 cudaStream_t stream) {
  using namespace models;
  const Attrs& a = n.attrs;
  T* out = y.data;
  auto opt = [&](size_t i) -> const T* { return in.size() > i ? in[i].data : nullptr; };
  switch (n.op) {
    case OpKind::Conv2d:
      kernels::conv2d_cuda<T>(conv2d_geometry(n, in[0].shape, in[1].shape), in[0].data, in[1].data, opt(2),
                              in.size() == 4 ? in[3].data : nullptr, a.act, out, stream);
      return;
    case OpKind::Linear: {
      const int k = static_cast<int>(in[1].shape[1]), nout = static_cast<int>(in[1].shape[0]);
      const int rows = static_cast<int>(num_elements(in[0].shape) / k);
      kernels::gemm_cuda<T>(rows, nout, k, in[0].data, in[1].data, true, 1.f, opt(2), a.act, out, stream);
      return;
    }
    case OpKind::MatMul: {
      const MatMulPlan p = matmul_plan(in[0].shape, in[1].shape, y.shape);
      const int64_t mn = int64_t{p.m} * p.n;
      if (p.uniform) {
        kernels::batched_matmul_cuda<T>(static_cast<int>(p.offset_a.size()), p.m, p.n, p.k, in[0].data, p.stride_a,
                                        in[1].data, p.stride_b, a.alpha, out, mn, stream);
      } else {
        for (size_t i = 0; i < p.offset_a.size(); ++i)
          kernels::batched_matmul_cuda<T>(1, p.m, p.n, p.k, in[0].data + p.offset_a[i], 0,
                                          in[1].data + p.offset_b[i], 0, a.alpha, out + static_cast<int64_t>(i) * mn, 0,
                                          stream);
      }
      return;
    }
    case OpKind::ChannelAffine: {
      const Shape& s = in[0].shape;
      kernels::channel_affine_cuda<T>(static_cast<int>(s[0]), static_cast<int>(s[1]), num_elements(s) / (s[0] * s[1]),
                                      in[0].data, in[1].data, in[2].data, a.act, out, stream);
      return;
    }
    case OpKind::Unary: kernels::unary_cuda<T>(a.unary, a.act, num_elements(y.shape), in[0].data, out, stream); return;
    case OpKind::Binary:
      kernels::binary_cuda<T>(a.binary, in[0].shape, in[0].data, in[1].shape, in[1].data, y.shape, out, stream);
      return;
    case OpKind::MaxPool: kernels::maxpool2d_cuda<T>(pool2d_geometry(n, in[0].shape), in[0].data, out, stream); return;
    case OpKind::AvgPool: kernels::avgpool2d_cuda<T>(pool2d_geometry(n, in[0].shape), in[0].data, out, stream); return;
    case OpKind::GlobalAvgPool: {
      const Shape& s = in[0].shape;
      kernels::global_avgpool_cuda<T>(static_cast<int>(s[0]), static_cast<int>(s[1]), static_cast<int>(s[2] * s[3]),
                                      in[0].data, out, stream);
      return;
    }
    case OpKind::Concat: {
      std::vector<Shape> shapes;
      std::vector<const T*> ptrs;
      for (const View<T>& v : in) {
        shapes.push_back(v.shape);
        ptrs.push_back(v.data);
      }
      kernels::concat_cuda<T>(shapes, ptrs, a.axis, out, stream);
      return;
    }
    case OpKind::Reshape: return;  // aliased in the arena: nothing to move
    case OpKind::Transpose: kernels::transpose_cuda<T>(in[0].shape, a.perm, in[0].data, out, stream); return;
    case OpKind::Slice: {
      const SliceBounds b = slice_bounds(n, in[0].shape);
      kernels::slice_cuda<T>(in[0].shape, b.starts, b.ends, b.steps, in[0].data, out, stream);
      return;
    }
    case OpKind::Pad:
      kernels::pad_cuda<T>(in[0].shape, a.pads_begin, a.pads_end, a.pad_value, in[0].data, out, stream);
      return;
    case OpKind::Gather: kernels::gather_axis_cuda<T>(in[0].shape, a.axis, a.indices, in[0].data, out, stream); return;
    case OpKind::Embedding:
      kernels::gather_rows_cuda<T>(in[0].shape[0], in[0].shape[1], in[0].data, num_elements(in[1].shape), ids, out,
                                   bad_id, stream);
      return;
    case OpKind::Softmax: {
      const RowView v = last_axis_rows(y.shape);
      kernels::softmax_cuda<T>(v.rows, v.cols, in[0].data, out, stream);
      return;
    }
    case OpKind::LayerNorm: {
      const RowView v = last_axis_rows(y.shape);
      kernels::layernorm_cuda<T>(v.rows, v.cols, in[0].data, opt(1), opt(2), a.epsilon, out, stream);
      return;
    }
    case OpKind::ReduceMean: {
      const ReduceView v = reduce_view(n, in[0].shape);
      kernels::reduce_mean_cuda<T>(v.outer, v.reduce, v.inner, in[0].data, out, stream);
      return;
    }
  }
  throw models::GraphError(fmt::format("node '{}': no CUDA kernel for {}", n.name, models::op_name(n.op)));
}

struct BatchState {
  MemoryPlan plan;
  DeviceBuffer activations;
  DeviceBuffer staging;  // fp32 bounce buffer for inputs/outputs of a reduced precision
  DeviceBuffer bad_id;   // first out-of-range embedding id position, or -1
  std::map<cudaStream_t, GraphExec> graphs;
  bool warmed_up = false;
};

}  // namespace

const char* kernel_source_name(KernelSource s) { return s == KernelSource::Vendor ? "vendor" : "ours"; }

struct DeviceModel::Impl {
  const Graph& graph;
  DeviceModelOptions options;
  std::vector<bool> f32;    // values stored as float32 whatever the precision (embedding ids)
  MemoryPlan weights_plan;  // weight offsets (the same at every batch)
  DeviceBuffer weights;
  std::map<int64_t, BatchState> batches;
  DeviceBuffer shared_arena;    // DeviceModelOptions::shared_arena_max_batch > 0
  DeviceBuffer shared_staging;
  std::vector<KernelSource> ran_on;  // per node, what ran it last (vendor or ours)
  int graphs_captured = 0;
#ifdef DSTACK_HAVE_VENDOR
  std::unique_ptr<vendor::VendorContext> vendor;
#endif

  Impl(const Graph& g, DeviceModelOptions o)
      : graph(g), options(o), f32(float32_values(g)), ran_on(g.nodes().size(), KernelSource::Ours) {}

  int element_bytes() const { return kernels::element_bytes(options.precision); }

  // The largest stored input or output at `batch`, in fp32 bytes: what the staging buffer holds.
  int64_t io_bytes(int64_t batch) const {
    int64_t io = 0;
    for (const std::vector<int>* ids : {&graph.inputs(), &graph.outputs()})
      for (int id : *ids) io = std::max(io, 4 * models::num_elements(models::full_shape(graph.value(id), batch)));
    return io;
  }

  // Allocates the arena and staging buffer every batch shares (DeviceModelOptions::shared_arena_max_batch).
  void allocate_shared_arena() {
    const DeviceModelBytes need = device_model_bytes(graph, options.precision, options.shared_arena_max_batch);
    require_free_memory(need.arena + need.staging,
                        fmt::format("the activations of batches 1-{}", options.shared_arena_max_batch));
    shared_arena = DeviceBuffer(static_cast<size_t>(need.arena));
    shared_staging = DeviceBuffer(static_cast<size_t>(need.staging));
  }

  BatchState& state(int64_t batch) {
    auto it = batches.find(batch);
    if (it != batches.end()) return it->second;
    const bool shared = options.shared_arena_max_batch > 0;
    if (shared && batch > options.shared_arena_max_batch)
      throw std::invalid_argument(fmt::format("model '{}': batch {} is larger than the {} its arena was sized for",
                                              graph.name(), batch, options.shared_arena_max_batch));
    BatchState s;
    s.plan = plan_memory(graph, batch, element_bytes());
    if (shared) {
      if (s.plan.activation_bytes > static_cast<int64_t>(shared_arena.bytes()))
        throw std::logic_error(fmt::format("model '{}': batch {} needs {} bytes of arena, the shared one has {}",
                                           graph.name(), batch, s.plan.activation_bytes, shared_arena.bytes()));
    } else {
      require_free_memory(s.plan.activation_bytes, fmt::format("the activations of batch {}", batch));
      s.activations = DeviceBuffer(static_cast<size_t>(s.plan.activation_bytes));
      if (options.precision != Precision::F32) s.staging = DeviceBuffer(static_cast<size_t>(io_bytes(batch)));
    }
    s.bad_id = DeviceBuffer(sizeof(int));
    // -1 before any run: enqueue_node alone (per-kernel dispatch) never resets it, and fresh device
    // memory is not zero-filled, so garbage here read as a bad embedding id (seen on an H100).
    DSTACK_CUDA_CHECK(cudaMemset(s.bad_id.data(), 0xff, sizeof(int)));
    return batches.emplace(batch, std::move(s)).first->second;
  }

  char* arena(BatchState& s) {
    return static_cast<char*>(options.shared_arena_max_batch > 0 ? shared_arena.data() : s.activations.data());
  }
  DeviceBuffer& staging(BatchState& s) { return options.shared_arena_max_batch > 0 ? shared_staging : s.staging; }

  // A clear error instead of cudaErrorMemoryAllocation when a batch (or the weights) cannot fit.
  void require_free_memory(int64_t bytes, const std::string& what) const {
    size_t free_bytes = 0, total_bytes = 0;
    DSTACK_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    if (bytes > static_cast<int64_t>(free_bytes))
      throw std::invalid_argument(fmt::format(
          "model '{}' at {}: {} need {:.1f} MiB of device memory, {:.1f} MiB of {:.1f} MiB are free; use a smaller "
          "batch or a lower precision", graph.name(), kernels::precision_name(options.precision), what,
          static_cast<double>(bytes) / (1 << 20), static_cast<double>(free_bytes) / (1 << 20),
          static_cast<double>(total_bytes) / (1 << 20)));
  }

  // Device address of value `id` in the weight block or in the arena of `s`.
  char* address(BatchState& s, int id) {
    const auto v = static_cast<size_t>(id);
    if (graph.value(id).constant) return static_cast<char*>(weights.data()) + weights_plan.weight_offset[v];
    return arena(s) + s.plan.activation_offset[v];
  }

  // Host fp32 -> device, converting through `staging` unless T is float or the value stays fp32.
  // Stream order keeps a conversion's read of staging before the next copy overwrites it.
  template <typename T>
  static void upload(const float* host, int64_t elems, char* slot, bool keep_f32, DeviceBuffer& staging,
                     cudaStream_t stream) {
    const size_t bytes = sizeof(float) * static_cast<size_t>(elems);
    if (bytes == 0) return;
    if (keep_f32 || std::is_same_v<T, float>) {
      DSTACK_CUDA_CHECK(cudaMemcpyAsync(slot, host, bytes, cudaMemcpyHostToDevice, stream));
      return;
    }
    DSTACK_CUDA_CHECK(cudaMemcpyAsync(staging.data(), host, bytes, cudaMemcpyHostToDevice, stream));
    kernels::convert_cuda<float, T>(elems, staging.as<float>(), reinterpret_cast<T*>(slot), stream);
  }

  template <typename T>
  void upload_weights() {
    weights_plan = plan_memory(graph, 1, element_bytes());
    require_free_memory(weights_plan.weight_bytes, "the weights");
    weights = DeviceBuffer(static_cast<size_t>(weights_plan.weight_bytes));
    int64_t largest = 0;
    for (size_t v = 0; v < graph.values().size(); ++v) {
      const models::Value& value = graph.value(static_cast<int>(v));
      if (!value.constant) continue;
      if (!value.data)
        throw std::invalid_argument(fmt::format("model '{}' was built without weights (constant '{}' has no data)",
                                                graph.name(), value.name));
      largest = std::max(largest, static_cast<int64_t>(value.data->size()));
    }
    DeviceBuffer staging(std::is_same_v<T, float> ? 0 : sizeof(float) * static_cast<size_t>(largest));
    Stream stream;
    for (size_t v = 0; v < graph.values().size(); ++v) {
      const models::Value& value = graph.value(static_cast<int>(v));
      if (!value.constant) continue;
      char* slot = static_cast<char*>(weights.data()) + weights_plan.weight_offset[v];
      upload<T>(value.data->data(), static_cast<int64_t>(value.data->size()), slot, f32[v], staging, stream.get());
    }
    stream.synchronize();
  }

  template <typename T>
  void set_inputs(const std::vector<models::Tensor>& inputs, cudaStream_t stream) {
    if (inputs.size() != graph.inputs().size())
      throw std::invalid_argument(
          fmt::format("model '{}' takes {} input(s), {} given", graph.name(), graph.inputs().size(), inputs.size()));
    if (inputs.empty() || inputs[0].shape.empty())
      throw std::invalid_argument(fmt::format("model '{}': the input needs a batch dimension", graph.name()));
    const int64_t batch = inputs[0].shape[0];
    BatchState& s = state(batch);
    for (size_t i = 0; i < inputs.size(); ++i) {
      const int id = graph.inputs()[i];
      const models::Value& v = graph.value(id);
      const Shape want = models::full_shape(v, batch);
      if (inputs[i].shape != want || static_cast<int64_t>(inputs[i].data.size()) != models::num_elements(want))
        throw std::invalid_argument(fmt::format("input '{}' has shape {}, the model expects {} (batch first)", v.name,
                                                models::shape_str(inputs[i].shape), models::shape_str(want)));
      upload<T>(inputs[i].data.data(), models::num_elements(want), address(s, id), f32[static_cast<size_t>(id)],
                staging(s), stream);
    }
  }

  template <typename T>
  void upload_inputs(int64_t batch, const std::vector<const float*>& host, cudaStream_t stream) {
    if (host.size() != graph.inputs().size())
      throw std::invalid_argument(
          fmt::format("model '{}' takes {} input(s), {} given", graph.name(), graph.inputs().size(), host.size()));
    BatchState& s = state(batch);
    for (size_t i = 0; i < host.size(); ++i) {
      const int id = graph.inputs()[i];
      upload<T>(host[i], models::num_elements(models::full_shape(graph.value(id), batch)), address(s, id),
                f32[static_cast<size_t>(id)], staging(s), stream);
    }
  }

  template <typename T>
  void enqueue_node(int64_t batch, size_t index, cudaStream_t stream) {
    BatchState& s = state(batch);
    const Node& n = graph.nodes().at(index);
    std::vector<View<T>> in;
    std::vector<Shape> shapes;
    const float* ids = nullptr;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const int id = n.inputs[i];
      const models::Value& v = graph.value(id);
      const Shape shape = v.constant ? v.shape : models::full_shape(v, batch);
      char* p = address(s, id);
      if (f32[static_cast<size_t>(id)]) ids = reinterpret_cast<const float*>(p);
      in.push_back(View<T>{shape, reinterpret_cast<T*>(p)});
      shapes.push_back(shape);
    }
    const View<T> y{models::full_shape(graph.value(n.output), batch), reinterpret_cast<T*>(address(s, n.output))};
#ifdef DSTACK_HAVE_VENDOR
    if constexpr (std::is_same_v<T, float>) {
      if (options.kernels == KernelSource::Vendor && n.op != OpKind::Reshape) {
        std::vector<models::TensorView> views;
        for (const View<T>& v : in) views.push_back(models::TensorView{v.shape, v.data});
        vendor->bind(stream);
        if (vendor::launch_vendor(n, views, y.shape, y.data, *vendor, stream)) {
          ran_on[index] = KernelSource::Vendor;
          return;
        }
      }
    }
#endif
    ran_on[index] = KernelSource::Ours;
    launch_ours<T>(n, in, ids, y, s.bad_id.as<int>(), stream);
  }

  template <typename T>
  void enqueue(int64_t batch, cudaStream_t stream) {
    BatchState& s = state(batch);
    DSTACK_CUDA_CHECK(cudaMemsetAsync(s.bad_id.data(), 0xff, sizeof(int), stream));  // -1: no bad id yet
    for (size_t i = 0; i < graph.nodes().size(); ++i) enqueue_node<T>(batch, i, stream);
  }

  template <typename T>
  void enqueue_graph(int64_t batch, cudaStream_t stream) {
    capture_graph<T>(batch, stream);
    DSTACK_CUDA_CHECK(cudaGraphLaunch(state(batch).graphs.at(stream).get(), stream));
  }

  template <typename T>
  void warm_up(int64_t batch, cudaStream_t stream) {
    enqueue<T>(batch, stream);
    DSTACK_CUDA_CHECK(cudaStreamSynchronize(stream));
    state(batch).warmed_up = true;
  }

  template <typename T>
  bool capture_graph(int64_t batch, cudaStream_t stream) {
    BatchState& s = state(batch);
    auto found = s.graphs.find(stream);
    if (found == s.graphs.end()) {
      if (!s.warmed_up) warm_up<T>(batch, stream);
      DSTACK_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
      cudaGraph_t raw = nullptr;
      try {
        enqueue<T>(batch, stream);
      } catch (...) {
        cudaStreamEndCapture(stream, &raw);  // leave the stream usable; the error below is the one to report
        if (raw != nullptr) cudaGraphDestroy(raw);
        throw;
      }
      DSTACK_CUDA_CHECK(cudaStreamEndCapture(stream, &raw));
      UniqueHandle<cudaGraph_t, DestroyGraph> graph_owner(raw);
      cudaGraphExec_t exec = nullptr;
      DSTACK_CUDA_CHECK(cudaGraphInstantiate(&exec, raw, 0));
      s.graphs.emplace(stream, GraphExec(exec));
      ++graphs_captured;
      return true;
    }
    return false;
  }

  template <typename T>
  std::vector<models::Tensor> outputs(int64_t batch, cudaStream_t stream) {
    BatchState& s = state(batch);
    DSTACK_CUDA_CHECK(cudaStreamSynchronize(stream));
    int bad = -1;
    DSTACK_CUDA_CHECK(cudaMemcpy(&bad, s.bad_id.data(), sizeof(int), cudaMemcpyDeviceToHost));
    if (bad >= 0) {
      std::string node = "?";
      for (const Node& n : graph.nodes())
        if (n.op == OpKind::Embedding) node = n.name;
      throw models::GraphError(
          fmt::format("node '{}' (Embedding): the id at position {} is outside the table", node, bad));
    }
    std::vector<models::Tensor> out;
    for (int id : graph.outputs()) {
      const Shape shape = models::full_shape(graph.value(id), batch);
      models::Tensor host{shape, std::vector<float>(static_cast<size_t>(models::num_elements(shape)))};
      const size_t bytes = sizeof(float) * host.data.size();
      const char* slot = address(s, id);
      if (bytes > 0) {
        if (std::is_same_v<T, float> || f32[static_cast<size_t>(id)]) {
          DSTACK_CUDA_CHECK(cudaMemcpyAsync(host.data.data(), slot, bytes, cudaMemcpyDeviceToHost, stream));
        } else {
          DeviceBuffer& bounce = staging(s);
          kernels::convert_cuda<T, float>(static_cast<int64_t>(host.data.size()), reinterpret_cast<const T*>(slot),
                                          bounce.as<float>(), stream);
          DSTACK_CUDA_CHECK(cudaMemcpyAsync(host.data.data(), bounce.data(), bytes, cudaMemcpyDeviceToHost, stream));
        }
        DSTACK_CUDA_CHECK(cudaStreamSynchronize(stream));
      }
      out.push_back(std::move(host));
    }
    return out;
  }
};

// Calls Impl::fn<T> for the run's precision.
#define DSTACK_DISPATCH_PRECISION(call)                                      \
  switch (impl_->options.precision) {                                        \
    case Precision::F32: { using T = float; call; } break;                   \
    case Precision::F16: { using T = __half; call; } break;                  \
    case Precision::BF16: { using T = __nv_bfloat16; call; } break;          \
  }

DeviceModel::DeviceModel(const Graph& graph, DeviceModelOptions options)
    : impl_(std::make_unique<Impl>(graph, options)) {
  driver();  // throws DriverUnavailable with the reason when there is no GPU
  if (options.kernels == KernelSource::Vendor) {
#ifdef DSTACK_HAVE_VENDOR
    if (options.precision != Precision::F32)
      throw std::invalid_argument(fmt::format("the vendor backend runs fp32 only (asked for {}); use --precision fp32",
                                              kernels::precision_name(options.precision)));
    impl_->vendor = std::make_unique<vendor::VendorContext>(nullptr);
#else
    throw std::invalid_argument(
        "this build has no vendor backend (cuDNN or cuBLAS was not found at configure time; see `dstack info`)");
#endif
  }
  DSTACK_DISPATCH_PRECISION(impl_->upload_weights<T>());
  if (options.shared_arena_max_batch > 0) impl_->allocate_shared_arena();
}

DeviceModelBytes device_model_bytes(const Graph& graph, Precision precision, int64_t max_batch) {
  if (max_batch < 1) throw std::invalid_argument(fmt::format("max batch must be at least 1 (got {})", max_batch));
  DeviceModelBytes b;
  const int elem = kernels::element_bytes(precision);
  for (int64_t batch = 1; batch <= max_batch; ++batch) {
    const MemoryPlan p = plan_memory(graph, batch, elem);
    b.weights = p.weight_bytes;
    b.arena = std::max(b.arena, p.activation_bytes);
  }
  if (precision != Precision::F32) {
    for (const std::vector<int>* ids : {&graph.inputs(), &graph.outputs()})
      for (int id : *ids)
        b.staging = std::max(b.staging, 4 * models::num_elements(models::full_shape(graph.value(id), max_batch)));
  }
  return b;
}

DeviceModel::~DeviceModel() = default;

const DeviceModelOptions& DeviceModel::options() const noexcept { return impl_->options; }
int64_t DeviceModel::weight_bytes() const noexcept { return impl_->weights_plan.weight_bytes; }
const MemoryPlan& DeviceModel::prepare(int64_t batch) { return impl_->state(batch).plan; }

void DeviceModel::set_inputs(const std::vector<models::Tensor>& inputs, cudaStream_t stream) {
  DSTACK_DISPATCH_PRECISION(impl_->set_inputs<T>(inputs, stream));
}
void DeviceModel::upload_inputs(int64_t batch, const std::vector<const float*>& host, cudaStream_t stream) {
  DSTACK_DISPATCH_PRECISION(impl_->upload_inputs<T>(batch, host, stream));
}
void DeviceModel::enqueue_node(int64_t batch, size_t node, cudaStream_t stream) {
  DSTACK_DISPATCH_PRECISION(impl_->enqueue_node<T>(batch, node, stream));
}
void DeviceModel::enqueue(int64_t batch, cudaStream_t stream) {
  DSTACK_DISPATCH_PRECISION(impl_->enqueue<T>(batch, stream));
}
void DeviceModel::enqueue_graph(int64_t batch, cudaStream_t stream) {
  DSTACK_DISPATCH_PRECISION(impl_->enqueue_graph<T>(batch, stream));
}
void DeviceModel::warm_up(int64_t batch, cudaStream_t stream) {
  DSTACK_DISPATCH_PRECISION(impl_->warm_up<T>(batch, stream));
}
bool DeviceModel::capture_graph(int64_t batch, cudaStream_t stream) {
  DSTACK_DISPATCH_PRECISION(return impl_->capture_graph<T>(batch, stream));
  throw std::logic_error("unknown precision");
}
bool DeviceModel::has_graph(int64_t batch, cudaStream_t stream) const {
  auto it = impl_->batches.find(batch);
  return it != impl_->batches.end() && it->second.graphs.count(stream) > 0;
}
std::vector<models::Tensor> DeviceModel::outputs(int64_t batch, cudaStream_t stream) {
  DSTACK_DISPATCH_PRECISION(return impl_->outputs<T>(batch, stream));
  throw std::logic_error("unknown precision");
}

int DeviceModel::vendor_nodes() const noexcept {
  int count = 0;
  for (size_t i = 0; i < impl_->ran_on.size(); ++i)
    count += impl_->graph.nodes()[i].op != OpKind::Reshape && impl_->ran_on[i] == KernelSource::Vendor ? 1 : 0;
  return count;
}
int DeviceModel::our_nodes() const noexcept {
  int count = 0;
  for (size_t i = 0; i < impl_->ran_on.size(); ++i)
    count += impl_->graph.nodes()[i].op != OpKind::Reshape && impl_->ran_on[i] == KernelSource::Ours ? 1 : 0;
  return count;
}
int DeviceModel::graphs_captured() const noexcept { return impl_->graphs_captured; }

}  // namespace dstack::cuda
