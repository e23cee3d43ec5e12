#pragma once
// The vendor backend: one graph node through cuDNN or cuBLAS, so that every kernel and every model
// has a reference latency on the same GPU in the same run. What is covered, and why the rest is not,
// is decided by vendor_coverage.h (CPU logic); this file runs it.
//
// fp32 throughout, and true fp32: convolutions are restricted to CUDNN_FMA_MATH and cuBLAS keeps its
// default (no TF32) math, so the reference computes what dstack's kernels compute. Reduced precision
// will come as a separate overload taking the element type; this signature stays.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "models/graph.h"
#include "models/node_args.h"
#include "runtime/backend/cuda/resources.h"

namespace dstack::vendor {

// A cuDNN and a cuBLAS handle bound to one stream, a workspace that grows to the largest request,
// and the convolution algorithm chosen per shape (found once by timing every algorithm, then reused).
// One per thread: the handles are not thread-safe.
class VendorContext {
 public:
  explicit VendorContext(cudaStream_t stream);
  ~VendorContext();
  VendorContext(const VendorContext&) = delete;
  VendorContext& operator=(const VendorContext&) = delete;

  cudnnHandle_t cudnn() const noexcept;
  cublasHandle_t cublas() const noexcept;
  cudaStream_t stream() const noexcept { return stream_; }
  // Rebinds both handles (a no-op for the stream they are bound to already).
  void bind(cudaStream_t stream);
  // At least `bytes` of device workspace; valid until the next call. Growing frees the old buffer
  // (cudaFree waits for the device, so work still queued on it finishes first).
  void* workspace(std::size_t bytes);

  struct Impl;
  Impl& impl() noexcept { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
  cudaStream_t stream_ = nullptr;
};

// Runs node `n` on inputs `in` (device memory, full shapes) into `out` (device, out_shape, not
// overlapping any input) through cuDNN / cuBLAS on `stream`, asynchronously. Returns false, having
// touched nothing, when no vendor routine computes the node exactly as dstack defines it
// (vendor_coverage.h: vendor_gap says why); the caller then runs dstack's own kernel and counts the
// node as "ours". Vendor failures throw dstack::ApiError (DSTACK_CUDNN_CHECK / DSTACK_CUBLAS_CHECK).
// The first launch of each convolution shape times cuDNN's algorithms (synchronously, into scratch
// memory) and may grow the workspace: run a model once before capturing it into a CUDA graph; doing
// that setup during capture throws std::logic_error saying so.
bool launch_vendor(const models::Node& n, const std::vector<models::TensorView>& in, const models::Shape& out_shape,
                   float* out, VendorContext& ctx, cudaStream_t stream);

// "cuDNN 9.19.0 + cuBLAS 13.1.0" of the libraries loaded at run time (may differ from the headers
// when a wheel's library is found first on the library path).
std::string vendor_runtime_versions(VendorContext& ctx);

}  // namespace dstack::vendor
