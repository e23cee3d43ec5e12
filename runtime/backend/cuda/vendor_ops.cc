// launch_vendor: one node through cuDNN's legacy API or cuBLAS. vendor_coverage.cc decides whether
// a node is covered and with which descriptor parameters; this file only creates the descriptors
// (owned by UniqueHandle) and makes the calls. Node attributes become arguments through the same
// functions the executors use (models::conv2d_geometry, pool2d_geometry, matmul_plan, ...).
#include "runtime/backend/cuda/vendor_ops.h"

#include <fmt/format.h>

#include <array>
#include <map>
#include <stdexcept>

#include "runtime/backend/cuda/check.h"
#include "runtime/backend/cuda/check_cublas.h"
#include "runtime/backend/cuda/check_cudnn.h"
#include "runtime/backend/cuda/unique_handle.h"
#include "runtime/backend/cuda/vendor_coverage.h"

namespace dstack::vendor {
namespace {

using models::Node;
using models::OpKind;
using models::Shape;
using models::TensorView;

// ---- RAII owners of the cuDNN / cuBLAS objects
struct DestroyCudnn {
  void operator()(cudnnHandle_t h) const noexcept { cudnnDestroy(h); }
};
struct DestroyCublas {
  void operator()(cublasHandle_t h) const noexcept { cublasDestroy(h); }
};
struct DestroyTensorDesc {
  void operator()(cudnnTensorDescriptor_t d) const noexcept { cudnnDestroyTensorDescriptor(d); }
};
struct DestroyFilterDesc {
  void operator()(cudnnFilterDescriptor_t d) const noexcept { cudnnDestroyFilterDescriptor(d); }
};
struct DestroyConvDesc {
  void operator()(cudnnConvolutionDescriptor_t d) const noexcept { cudnnDestroyConvolutionDescriptor(d); }
};
struct DestroyActivationDesc {
  void operator()(cudnnActivationDescriptor_t d) const noexcept { cudnnDestroyActivationDescriptor(d); }
};
struct DestroyPoolingDesc {
  void operator()(cudnnPoolingDescriptor_t d) const noexcept { cudnnDestroyPoolingDescriptor(d); }
};
struct DestroyOpTensorDesc {
  void operator()(cudnnOpTensorDescriptor_t d) const noexcept { cudnnDestroyOpTensorDescriptor(d); }
};
struct DestroyReduceDesc {
  void operator()(cudnnReduceTensorDescriptor_t d) const noexcept { cudnnDestroyReduceTensorDescriptor(d); }
};
using TensorDesc = cuda::UniqueHandle<cudnnTensorDescriptor_t, DestroyTensorDesc>;
using FilterDesc = cuda::UniqueHandle<cudnnFilterDescriptor_t, DestroyFilterDesc>;
using ConvDesc = cuda::UniqueHandle<cudnnConvolutionDescriptor_t, DestroyConvDesc>;
using ActivationDesc = cuda::UniqueHandle<cudnnActivationDescriptor_t, DestroyActivationDesc>;
using PoolingDesc = cuda::UniqueHandle<cudnnPoolingDescriptor_t, DestroyPoolingDesc>;
using OpTensorDesc = cuda::UniqueHandle<cudnnOpTensorDescriptor_t, DestroyOpTensorDesc>;
using ReduceDesc = cuda::UniqueHandle<cudnnReduceTensorDescriptor_t, DestroyReduceDesc>;

// Packed fp32 tensor of rank 4 (NCHW) or 5.
TensorDesc tensor_desc(const std::vector<int>& dims) {
  cudnnTensorDescriptor_t d = nullptr;
  DSTACK_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d));
  TensorDesc owner(d);
  if (dims.size() == 4) {
    DSTACK_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, dims[0], dims[1], dims[2], dims[3]));
  } else {
    std::vector<int> strides(dims.size(), 1);
    for (size_t i = dims.size() - 1; i-- > 0;) strides[i] = strides[i + 1] * dims[i + 1];
    DSTACK_CUDNN_CHECK(
        cudnnSetTensorNdDescriptor(d, CUDNN_DATA_FLOAT, static_cast<int>(dims.size()), dims.data(), strides.data()));
  }
  return owner;
}
TensorDesc tensor_desc(const std::array<int, 4>& dims) {
  return tensor_desc(std::vector<int>(dims.begin(), dims.end()));
}

// Every covered shape fits (vendor_gap checked it); the narrowing is safe.
std::vector<int> dims_of(std::initializer_list<int64_t> dims) {
  std::vector<int> out;
  for (int64_t d : dims) out.push_back(static_cast<int>(d));
  while (out.size() < 4) out.push_back(1);
  return out;
}

ActivationDesc activation_desc(const VendorActivation& a) {
  cudnnActivationMode_t mode = CUDNN_ACTIVATION_IDENTITY;
  switch (a.mode) {
    case ActivationMode::Identity: mode = CUDNN_ACTIVATION_IDENTITY; break;
    case ActivationMode::Relu: mode = CUDNN_ACTIVATION_RELU; break;
    case ActivationMode::ClippedRelu: mode = CUDNN_ACTIVATION_CLIPPED_RELU; break;
    case ActivationMode::Sigmoid: mode = CUDNN_ACTIVATION_SIGMOID; break;
    case ActivationMode::Tanh: mode = CUDNN_ACTIVATION_TANH; break;
    case ActivationMode::Swish: mode = CUDNN_ACTIVATION_SWISH; break;
  }
  cudnnActivationDescriptor_t d = nullptr;
  DSTACK_CUDNN_CHECK(cudnnCreateActivationDescriptor(&d));
  ActivationDesc owner(d);
  DSTACK_CUDNN_CHECK(cudnnSetActivationDescriptor(d, mode, CUDNN_NOT_PROPAGATE_NAN, a.coef));
  if (a.mode == ActivationMode::Swish) DSTACK_CUDNN_CHECK(cudnnSetActivationDescriptorSwishBeta(d, a.swish_beta));
  return owner;
}

OpTensorDesc op_tensor_desc(cudnnOpTensorOp_t op) {
  cudnnOpTensorDescriptor_t d = nullptr;
  DSTACK_CUDNN_CHECK(cudnnCreateOpTensorDescriptor(&d));
  OpTensorDesc owner(d);
  DSTACK_CUDNN_CHECK(cudnnSetOpTensorDescriptor(d, op, CUDNN_DATA_FLOAT, CUDNN_NOT_PROPAGATE_NAN));
  return owner;
}

constexpr float kOne = 1.f;
constexpr float kZero = 0.f;

// y = act(y) in place; identity is no call at all (cudnnActivationForward refuses IDENTITY).
void activation_in_place(cudnnHandle_t h, const kernels::ActivationParams& act, const TensorDesc& y, float* data) {
  const VendorActivation a = *vendor_activation(act);
  if (a.mode == ActivationMode::Identity) return;
  const ActivationDesc d = activation_desc(a);
  DSTACK_CUDNN_CHECK(cudnnActivationForward(h, d.get(), &kOne, y.get(), data, &kZero, y.get(), data));
}

// Convolution descriptors and the algorithm cuDNN timed fastest, per shape.
struct ConvPlan {
  TensorDesc x, y, bias;
  FilterDesc w;
  ConvDesc conv;
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  std::size_t workspace = 0;
  bool fused_supported = true;  // cudnnConvolutionBiasActivationForward accepted this shape/algorithm
};
using ConvKey = std::array<int, 14>;

ConvKey conv_key(const ConvParams& p) {
  return {p.x[0], p.x[1], p.x[2], p.x[3], p.w[0], p.w[2], p.w[3], p.pad_h, p.pad_w, p.stride_h, p.stride_w,
          p.dilation_h, p.dilation_w, p.groups};
}

// cudnnFindConvolutionForwardAlgorithmEx may use this much workspace while timing; the algorithm
// it picks needs at most this much afterwards.
constexpr std::size_t kConvWorkspaceLimit = std::size_t{256} << 20;

}  // namespace

struct VendorContext::Impl {
  cuda::UniqueHandle<cudnnHandle_t, DestroyCudnn> cudnn;
  cuda::UniqueHandle<cublasHandle_t, DestroyCublas> cublas;
  cuda::DeviceBuffer workspace;
  std::map<ConvKey, std::unique_ptr<ConvPlan>> convs;
};

VendorContext::VendorContext(cudaStream_t stream) : impl_(std::make_unique<Impl>()) {
  cudnnHandle_t dnn = nullptr;
  DSTACK_CUDNN_CHECK(cudnnCreate(&dnn));
  impl_->cudnn = cuda::UniqueHandle<cudnnHandle_t, DestroyCudnn>(dnn);
  cublasHandle_t blas = nullptr;
  DSTACK_CUBLAS_CHECK(cublasCreate(&blas));
  impl_->cublas = cuda::UniqueHandle<cublasHandle_t, DestroyCublas>(blas);
  // True fp32 (no TF32): the reference computes what dstack's fp32 kernels compute.
  DSTACK_CUBLAS_CHECK(cublasSetMathMode(blas, CUBLAS_DEFAULT_MATH));
  stream_ = stream;
  DSTACK_CUDNN_CHECK(cudnnSetStream(dnn, stream));
  DSTACK_CUBLAS_CHECK(cublasSetStream(blas, stream));
}

VendorContext::~VendorContext() = default;

cudnnHandle_t VendorContext::cudnn() const noexcept { return impl_->cudnn.get(); }
cublasHandle_t VendorContext::cublas() const noexcept { return impl_->cublas.get(); }

void VendorContext::bind(cudaStream_t stream) {
  if (stream == stream_) return;
  DSTACK_CUDNN_CHECK(cudnnSetStream(cudnn(), stream));
  DSTACK_CUBLAS_CHECK(cublasSetStream(cublas(), stream));
  stream_ = stream;
}

namespace {

bool capturing(cudaStream_t stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  DSTACK_CUDA_CHECK(cudaStreamIsCapturing(stream, &status));
  return status != cudaStreamCaptureStatusNone;
}

// Allocating, freeing and cuDNN's timed algorithm search cannot be part of a CUDA graph; they happen
// on the first launch of each shape, which must therefore run outside stream capture.
void refuse_during_capture(cudaStream_t stream, const char* what) {
  if (capturing(stream))
    throw std::logic_error(fmt::format("the vendor backend would {} while a CUDA graph is being captured; run the "
                                       "model once without capture first (the first launch of each shape sets up "
                                       "cuDNN's algorithm and the workspace)",
                                       what));
}

}  // namespace

void* VendorContext::workspace(std::size_t bytes) {
  if (bytes > impl_->workspace.bytes()) {
    refuse_during_capture(stream_, "grow its workspace");
    impl_->workspace = cuda::DeviceBuffer(bytes);
  }
  return impl_->workspace.data();
}

namespace {

ConvPlan& conv_plan(VendorContext& ctx, const ConvParams& p, const float* x, const float* w) {
  auto& cache = ctx.impl().convs;
  const ConvKey key = conv_key(p);
  if (auto it = cache.find(key); it != cache.end()) return *it->second;
  refuse_during_capture(ctx.stream(), "time cuDNN's convolution algorithms");

  auto plan = std::make_unique<ConvPlan>();
  plan->x = tensor_desc(p.x);
  plan->y = tensor_desc(p.y);
  plan->bias = tensor_desc(std::array<int, 4>{1, p.y[1], 1, 1});
  cudnnFilterDescriptor_t fd = nullptr;
  DSTACK_CUDNN_CHECK(cudnnCreateFilterDescriptor(&fd));
  plan->w = FilterDesc(fd);
  DSTACK_CUDNN_CHECK(
      cudnnSetFilter4dDescriptor(fd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, p.w[0], p.w[1], p.w[2], p.w[3]));
  cudnnConvolutionDescriptor_t cd = nullptr;
  DSTACK_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&cd));
  plan->conv = ConvDesc(cd);
  DSTACK_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(cd, p.pad_h, p.pad_w, p.stride_h, p.stride_w, p.dilation_h,
                                                     p.dilation_w, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  DSTACK_CUDNN_CHECK(cudnnSetConvolutionGroupCount(cd, p.groups));
  // FMA only: on Ampere and later cuDNN's default math may use TF32 tensor cores for fp32 data.
  DSTACK_CUDNN_CHECK(cudnnSetConvolutionMathType(cd, CUDNN_FMA_MATH));

  // Time every algorithm on the real inputs, into a scratch output: the caller's output stays
  // untouched until the convolution itself runs.
  const std::size_t y_bytes = sizeof(float) * std::size_t(p.y[0]) * p.y[1] * p.y[2] * p.y[3];
  const cuda::DeviceBuffer scratch(y_bytes);
  void* ws = ctx.workspace(kConvWorkspaceLimit);
  std::array<cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_COUNT> perf{};
  int returned = 0;
  DSTACK_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(ctx.cudnn(), plan->x.get(), x, plan->w.get(), w, cd,
                                                            plan->y.get(), scratch.data(), int(perf.size()), &returned,
                                                            perf.data(), ws, kConvWorkspaceLimit));
  bool found = false;
  for (int i = 0; i < returned && !found; ++i) {
    if (perf[size_t(i)].status != CUDNN_STATUS_SUCCESS || perf[size_t(i)].memory > kConvWorkspaceLimit) continue;
    plan->algo = perf[size_t(i)].algo;
    plan->workspace = perf[size_t(i)].memory;
    found = true;
  }
  if (!found)
    throw std::runtime_error(fmt::format(
        "cuDNN has no fp32 FMA algorithm within {} MiB of workspace for the convolution x [{}, {}, {}, {}], "
        "w [{}, {}, {}, {}], groups {}",
        kConvWorkspaceLimit >> 20, p.x[0], p.x[1], p.x[2], p.x[3], p.w[0], p.w[1], p.w[2], p.w[3], p.groups));
  return *cache.emplace(key, std::move(plan)).first->second;
}

void run_conv(const Node& n, const std::vector<TensorView>& in, float* out, VendorContext& ctx) {
  const ConvParams p = *vendor_conv_params(models::conv2d_geometry(n, in[0].shape, in[1].shape), nullptr);
  ConvPlan& plan = conv_plan(ctx, p, in[0].data, in[1].data);
  cudnnHandle_t h = ctx.cudnn();
  void* ws = ctx.workspace(plan.workspace);
  const float* bias = in.size() >= 3 ? in[2].data : nullptr;
  const float* residual = in.size() == 4 ? in[3].data : nullptr;
  const VendorActivation act = *vendor_activation(n.attrs.act);

  // One fused call for conv + bias (+ residual) + ReLU, cuDNN's only fused activation for any algorithm.
  // Without a residual the output stands in for z with alpha2 = 0, as PyTorch's cudnn_convolution_relu does.
  if (act.mode == ActivationMode::Relu && bias && plan.fused_supported) {
    const ActivationDesc relu = activation_desc(act);
    const float alpha2 = residual ? 1.f : 0.f;
    const cudnnStatus_t status = cudnnConvolutionBiasActivationForward(
        h, &kOne, plan.x.get(), in[0].data, plan.w.get(), in[1].data, plan.conv.get(), plan.algo, ws, plan.workspace,
        &alpha2, plan.y.get(), residual ? residual : out, plan.bias.get(), bias, relu.get(), plan.y.get(), out);
    if (status != CUDNN_STATUS_NOT_SUPPORTED) {
      DSTACK_CUDNN_CHECK(status);
      return;
    }
    plan.fused_supported = false;  // refused before launching anything: use the separate calls from now on
  }
  DSTACK_CUDNN_CHECK(cudnnConvolutionForward(h, &kOne, plan.x.get(), in[0].data, plan.w.get(), in[1].data,
                                             plan.conv.get(), plan.algo, ws, plan.workspace, &kZero, plan.y.get(),
                                             out));
  if (bias) DSTACK_CUDNN_CHECK(cudnnAddTensor(h, &kOne, plan.bias.get(), bias, &kOne, plan.y.get(), out));
  if (residual) DSTACK_CUDNN_CHECK(cudnnAddTensor(h, &kOne, plan.y.get(), residual, &kOne, plan.y.get(), out));
  activation_in_place(h, n.attrs.act, plan.y, out);
}

// Row-major C [m, n] = A [m, k] B' [k, n] is column-major C^T = B'^T A^T: cuBLAS gets the operands
// swapped, each row-major matrix read as its column-major transpose.
void run_linear(const Node& n, const std::vector<TensorView>& in, float* out, VendorContext& ctx) {
  const int k = static_cast<int>(in[1].shape[1]), nout = static_cast<int>(in[1].shape[0]);
  const int rows = static_cast<int>(models::num_elements(in[0].shape) / k);
  // W is stored [nout, k] (B' = W^T): column-major it reads as k x nout, so cuBLAS transposes it.
  DSTACK_CUBLAS_CHECK(cublasSgemm(ctx.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, nout, rows, k, &kOne, in[1].data, k,
                                  in[0].data, k, &kZero, out, nout));
  const TensorDesc y = tensor_desc(dims_of({rows, nout}));
  if (in.size() == 3) {
    const TensorDesc b = tensor_desc(dims_of({1, nout}));
    DSTACK_CUDNN_CHECK(cudnnAddTensor(ctx.cudnn(), &kOne, b.get(), in[2].data, &kOne, y.get(), out));
  }
  activation_in_place(ctx.cudnn(), n.attrs.act, y, out);
}

void run_matmul(const Node& n, const std::vector<TensorView>& in, const Shape& out_shape, float* out,
                VendorContext& ctx) {
  const models::MatMulPlan p = models::matmul_plan(in[0].shape, in[1].shape, out_shape);
  const float alpha = n.attrs.alpha;
  const long long mn = static_cast<long long>(p.m) * p.n;
  if (p.uniform) {
    DSTACK_CUBLAS_CHECK(cublasSgemmStridedBatched(ctx.cublas(), CUBLAS_OP_N, CUBLAS_OP_N, p.n, p.m, p.k, &alpha,
                                                  in[1].data, p.n, p.stride_b, in[0].data, p.k, p.stride_a, &kZero, out,
                                                  p.n, mn, static_cast<int>(p.offset_a.size())));
    return;
  }
  for (size_t i = 0; i < p.offset_a.size(); ++i)
    DSTACK_CUBLAS_CHECK(cublasSgemm(ctx.cublas(), CUBLAS_OP_N, CUBLAS_OP_N, p.n, p.m, p.k, &alpha,
                                    in[1].data + p.offset_b[i], p.n, in[0].data + p.offset_a[i], p.k, &kZero,
                                    out + static_cast<long long>(i) * mn, p.n));
}

void run_channel_affine(const Node& n, const std::vector<TensorView>& in, float* out, VendorContext& ctx) {
  const Shape& s = in[0].shape;
  const int64_t inner = models::num_elements(s) / (s[0] * s[1]);
  const TensorDesc x = tensor_desc(dims_of({s[0], s[1], inner}));
  const TensorDesc c = tensor_desc(dims_of({1, s[1]}));
  const OpTensorDesc mul = op_tensor_desc(CUDNN_OP_TENSOR_MUL);
  DSTACK_CUDNN_CHECK(cudnnOpTensor(ctx.cudnn(), mul.get(), &kOne, x.get(), in[0].data, &kOne, c.get(), in[1].data,
                                   &kZero, x.get(), out));
  DSTACK_CUDNN_CHECK(cudnnAddTensor(ctx.cudnn(), &kOne, c.get(), in[2].data, &kOne, x.get(), out));
  activation_in_place(ctx.cudnn(), n.attrs.act, x, out);
}

void run_unary(const Node& n, const std::vector<TensorView>& in, const Shape& out_shape, float* out,
               VendorContext& ctx) {
  const TensorDesc d = tensor_desc(dims_of({models::num_elements(out_shape)}));
  cudnnHandle_t h = ctx.cudnn();
  switch (n.attrs.unary) {
    case kernels::UnaryOp::Activation:
      if (vendor_activation(n.attrs.act)->mode == ActivationMode::Identity) {
        DSTACK_CUDNN_CHECK(cudnnTransformTensor(h, &kOne, d.get(), in[0].data, &kZero, d.get(), out));
      } else {
        const ActivationDesc a = activation_desc(*vendor_activation(n.attrs.act));
        DSTACK_CUDNN_CHECK(cudnnActivationForward(h, a.get(), &kOne, d.get(), in[0].data, &kZero, d.get(), out));
      }
      return;
    case kernels::UnaryOp::Sqrt: {
      const OpTensorDesc op = op_tensor_desc(CUDNN_OP_TENSOR_SQRT);  // B is ignored; A stands in for it
      DSTACK_CUDNN_CHECK(
          cudnnOpTensor(h, op.get(), &kOne, d.get(), in[0].data, &kOne, d.get(), in[0].data, &kZero, d.get(), out));
      return;
    }
    case kernels::UnaryOp::Neg: {
      const float minus_one = -1.f;  // a scaled copy: never reads y, unlike alpha * A + 0 * B
      DSTACK_CUDNN_CHECK(cudnnTransformTensor(h, &minus_one, d.get(), in[0].data, &kZero, d.get(), out));
      return;
    }
    default: break;
  }
  throw std::logic_error(fmt::format("node '{}': vendor_gap admitted a unary op run_unary lacks", n.name));
}

void run_binary(const Node& n, const std::vector<TensorView>& in, const Shape& out_shape, float* out,
                VendorContext& ctx) {
  const BinaryParams p = *vendor_binary_params(n.attrs.binary, in[0].shape, in[1].shape, out_shape, nullptr);
  const TensorDesc a = tensor_desc(p.a), b = tensor_desc(p.b), c = tensor_desc(p.c);
  const OpTensorDesc op = op_tensor_desc(p.op == TensorOp::Mul ? CUDNN_OP_TENSOR_MUL : CUDNN_OP_TENSOR_ADD);
  const float* first = p.swap ? in[1].data : in[0].data;
  const float* second = p.swap ? in[0].data : in[1].data;
  DSTACK_CUDNN_CHECK(cudnnOpTensor(ctx.cudnn(), op.get(), &p.alpha1, a.get(), first, &p.alpha2, b.get(), second,
                                   &kZero, c.get(), out));
}

void run_pool(const Node& n, const std::vector<TensorView>& in, float* out, VendorContext& ctx) {
  const PoolParams p = *vendor_pool_params(models::pool2d_geometry(n, in[0].shape), n.op == OpKind::MaxPool, nullptr);
  cudnnPoolingMode_t mode = CUDNN_POOLING_MAX;
  if (p.mode == PoolMode::AverageIncludePad) mode = CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING;
  if (p.mode == PoolMode::AverageExcludePad) mode = CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
  cudnnPoolingDescriptor_t pd = nullptr;
  DSTACK_CUDNN_CHECK(cudnnCreatePoolingDescriptor(&pd));
  const PoolingDesc pool(pd);
  DSTACK_CUDNN_CHECK(cudnnSetPooling2dDescriptor(pd, mode, CUDNN_NOT_PROPAGATE_NAN, p.window_h, p.window_w, p.pad_h,
                                                 p.pad_w, p.stride_h, p.stride_w));
  const TensorDesc x = tensor_desc(p.x), y = tensor_desc(p.y);
  DSTACK_CUDNN_CHECK(cudnnPoolingForward(ctx.cudnn(), pd, &kOne, x.get(), in[0].data, &kZero, y.get(), out));
}

// Mean over dim 2 of [outer, reduce, inner, 1] into [outer, 1, inner, 1] (GlobalAvgPool, ReduceMean).
void run_mean(int64_t outer, int64_t reduce, int64_t inner, const float* x, float* out, VendorContext& ctx) {
  const TensorDesc a = tensor_desc(dims_of({outer, reduce, inner})), c = tensor_desc(dims_of({outer, 1, inner}));
  cudnnReduceTensorDescriptor_t rd = nullptr;
  DSTACK_CUDNN_CHECK(cudnnCreateReduceTensorDescriptor(&rd));
  const ReduceDesc mean(rd);
  DSTACK_CUDNN_CHECK(cudnnSetReduceTensorDescriptor(rd, CUDNN_REDUCE_TENSOR_AVG, CUDNN_DATA_FLOAT,
                                                    CUDNN_NOT_PROPAGATE_NAN, CUDNN_REDUCE_TENSOR_NO_INDICES,
                                                    CUDNN_32BIT_INDICES));
  std::size_t bytes = 0;
  DSTACK_CUDNN_CHECK(cudnnGetReductionWorkspaceSize(ctx.cudnn(), rd, a.get(), c.get(), &bytes));
  void* ws = ctx.workspace(bytes);
  DSTACK_CUDNN_CHECK(
      cudnnReduceTensor(ctx.cudnn(), rd, nullptr, 0, ws, bytes, &kOne, a.get(), x, &kZero, c.get(), out));
}

void run_softmax(const std::vector<TensorView>& in, const Shape& out_shape, float* out, VendorContext& ctx) {
  const models::RowView v = models::last_axis_rows(out_shape);
  const TensorDesc d = tensor_desc(dims_of({v.rows, v.cols}));
  // INSTANCE mode normalizes over C, H, W of each N: over the cols of each row here.
  DSTACK_CUDNN_CHECK(cudnnSoftmaxForward(ctx.cudnn(), CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_INSTANCE, &kOne,
                                         d.get(), in[0].data, &kZero, d.get(), out));
}

std::string version_string(long long v) {
  return fmt::format("{}.{}.{}", v / 10000, (v % 10000) / 100, v % 100);
}

}  // namespace

bool launch_vendor(const Node& n, const std::vector<TensorView>& in, const Shape& out_shape, float* out,
                   VendorContext& ctx, cudaStream_t stream) {
  std::vector<Shape> shapes;
  for (const TensorView& v : in) shapes.push_back(v.shape);
  if (!vendor_covers(n, shapes, out_shape)) return false;
  if (models::num_elements(out_shape) == 0) return true;  // nothing to compute, and cuDNN refuses empty tensors
  ctx.bind(stream);
  switch (n.op) {
    case OpKind::Conv2d: run_conv(n, in, out, ctx); return true;
    case OpKind::Linear: run_linear(n, in, out, ctx); return true;
    case OpKind::MatMul: run_matmul(n, in, out_shape, out, ctx); return true;
    case OpKind::ChannelAffine: run_channel_affine(n, in, out, ctx); return true;
    case OpKind::Unary: run_unary(n, in, out_shape, out, ctx); return true;
    case OpKind::Binary: run_binary(n, in, out_shape, out, ctx); return true;
    case OpKind::MaxPool:
    case OpKind::AvgPool: run_pool(n, in, out, ctx); return true;
    case OpKind::GlobalAvgPool: {
      const Shape& s = in[0].shape;
      run_mean(s[0] * s[1], s[2] * s[3], 1, in[0].data, out, ctx);
      return true;
    }
    case OpKind::ReduceMean: {
      const models::ReduceView v = models::reduce_view(n, in[0].shape);
      run_mean(v.outer, v.reduce, v.inner, in[0].data, out, ctx);
      return true;
    }
    case OpKind::Softmax: run_softmax(in, out_shape, out, ctx); return true;
    default: break;
  }
  throw std::logic_error(fmt::format("node '{}': vendor_gap admitted {}, which launch_vendor does not run", n.name,
                                     models::op_name(n.op)));
}

std::string vendor_runtime_versions(VendorContext& ctx) {
  int blas = 0;
  DSTACK_CUBLAS_CHECK(cublasGetVersion(ctx.cublas(), &blas));
  return fmt::format("cuDNN {} + cuBLAS {}", version_string(static_cast<long long>(cudnnGetVersion())),
                     version_string(blas));
}

}  // namespace dstack::vendor
