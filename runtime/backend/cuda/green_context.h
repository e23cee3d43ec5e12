#pragma once
// SM partitions as green contexts. A partition is a green context over a set of SMs plus a stream
// created in it; kernels launched into that stream (runtime <<<>>> launches and library calls
// included) run only on those SMs. Memory is shared with the primary context.
#include <cuda.h>
#include <cuda_runtime_api.h>

#include <vector>

#include "runtime/backend/cuda/driver_api.h"
#include "runtime/backend/cuda/unique_handle.h"
#include "runtime/backend/gpu_info.h"

namespace dstack::cuda {

struct DestroyGreenContext {
  void operator()(CUgreenCtx g) const noexcept {
    if (const DriverApi* api = driver_if_loaded()) api->cuGreenCtxDestroy(g);
  }
};
struct DestroyDriverStream {
  void operator()(CUstream s) const noexcept {
    if (const DriverApi* api = driver_if_loaded()) api->cuStreamDestroy(s);
  }
};

class GreenPartition {
 public:
  GreenPartition(UniqueHandle<CUgreenCtx, DestroyGreenContext> ctx, UniqueHandle<CUstream, DestroyDriverStream> stream,
                 int sm_count)
      : ctx_(std::move(ctx)), stream_(std::move(stream)), sm_count_(sm_count) {}

  // SMs the driver gave this context (read back from it, not the size asked for).
  int sm_count() const noexcept { return sm_count_; }
  CUgreenCtx context() const noexcept { return ctx_.get(); }
  cudaStream_t stream() const noexcept { return reinterpret_cast<cudaStream_t>(stream_.get()); }

 private:
  // Declared before the stream so it is destroyed after it.
  UniqueHandle<CUgreenCtx, DestroyGreenContext> ctx_;
  UniqueHandle<CUstream, DestroyDriverStream> stream_;
  int sm_count_;
};

using GreenStream = UniqueHandle<CUstream, DestroyDriverStream>;

// Another stream of a green context (cuGreenCtxStreamCreate, non-blocking): its work runs on the
// context's SMs only, concurrently with the context's other streams.
GreenStream create_green_stream(CUgreenCtx ctx);

// The device's SM resource as green contexts see it, with the partition sizes a real split yields.
SmPartitionGranularity query_sm_granularity(int device_ordinal);

// Partitions of the requested SM counts over disjoint SMs. The device's SMs are split into groups
// of the minimum partition size (cuDevSmResourceSplitByCount); each partition takes whole groups,
// so a size is rounded up to the group size. Throws std::invalid_argument naming the sizes allowed
// when the request does not fit, DriverUnavailable without green-context support.
std::vector<GreenPartition> make_disjoint_partitions(int device_ordinal, const std::vector<int>& sm_counts);

}  // namespace dstack::cuda
