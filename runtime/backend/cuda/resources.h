#pragma once
// RAII owners for the runtime-API resources: device memory, pinned host memory, streams, events.
#include <cuda_runtime_api.h>

#include <cstddef>

#include "runtime/backend/cuda/check.h"
#include "runtime/backend/cuda/unique_handle.h"

namespace dstack::cuda {

struct FreeDeviceMemory {
  void operator()(void* p) const noexcept { cudaFree(p); }
};
struct FreePinnedMemory {
  void operator()(void* p) const noexcept { cudaFreeHost(p); }
};
struct DestroyStream {
  void operator()(cudaStream_t s) const noexcept { cudaStreamDestroy(s); }
};
struct DestroyEvent {
  void operator()(cudaEvent_t e) const noexcept { cudaEventDestroy(e); }
};

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
    void* p = nullptr;
    if (bytes > 0) DSTACK_CUDA_CHECK(cudaMalloc(&p, bytes));
    mem_ = UniqueHandle<void*, FreeDeviceMemory>(p);
  }
  void* data() const noexcept { return mem_.get(); }
  template <typename T>
  T* as() const noexcept { return static_cast<T*>(mem_.get()); }
  std::size_t bytes() const noexcept { return bytes_; }

 private:
  UniqueHandle<void*, FreeDeviceMemory> mem_;
  std::size_t bytes_ = 0;
};

// Page-locked host memory: copies from it to the device are truly asynchronous (DMA), as a server's
// input buffers are.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t bytes) : bytes_(bytes) {
    void* p = nullptr;
    if (bytes > 0) DSTACK_CUDA_CHECK(cudaMallocHost(&p, bytes));
    mem_ = UniqueHandle<void*, FreePinnedMemory>(p);
  }
  template <typename T>
  T* as() const noexcept { return static_cast<T*>(mem_.get()); }
  std::size_t bytes() const noexcept { return bytes_; }

 private:
  UniqueHandle<void*, FreePinnedMemory> mem_;
  std::size_t bytes_ = 0;
};

class Stream {
 public:
  Stream() {
    cudaStream_t s = nullptr;
    DSTACK_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    s_ = UniqueHandle<cudaStream_t, DestroyStream>(s);
  }
  cudaStream_t get() const noexcept { return s_.get(); }
  void synchronize() const { DSTACK_CUDA_CHECK(cudaStreamSynchronize(s_.get())); }

 private:
  UniqueHandle<cudaStream_t, DestroyStream> s_;
};

class Event {
 public:
  explicit Event(unsigned flags = cudaEventDefault) {
    cudaEvent_t e = nullptr;
    DSTACK_CUDA_CHECK(cudaEventCreateWithFlags(&e, flags));
    e_ = UniqueHandle<cudaEvent_t, DestroyEvent>(e);
  }
  cudaEvent_t get() const noexcept { return e_.get(); }
  void record(cudaStream_t stream) const { DSTACK_CUDA_CHECK(cudaEventRecord(e_.get(), stream)); }
  void synchronize() const { DSTACK_CUDA_CHECK(cudaEventSynchronize(e_.get())); }
  // Milliseconds from `start` to this event; both must have completed.
  float elapsed_ms_since(const Event& start) const {
    float ms = 0.f;
    DSTACK_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), e_.get()));
    return ms;
  }

 private:
  UniqueHandle<cudaEvent_t, DestroyEvent> e_;
};

}  // namespace dstack::cuda
