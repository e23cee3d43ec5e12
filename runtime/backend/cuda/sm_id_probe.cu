#include <algorithm>

#include "runtime/backend/cuda/check.h"
#include "runtime/backend/cuda/resources.h"
#include "runtime/backend/cuda/sm_id_probe.h"

namespace dstack::cuda {
namespace {

__device__ unsigned sm_id() {
  unsigned id;
  asm volatile("mov.u32 %0, %%smid;" : "=r"(id));
  return id;
}

__device__ unsigned long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__global__ void record_sm_ids_kernel(unsigned* out, unsigned long long spin_ns) {
  if (threadIdx.x == 0) {
    out[blockIdx.x] = sm_id();
    unsigned long long start = global_ns();
    while (global_ns() - start < spin_ns) {
    }
  }
}

}  // namespace

void launch_record_sm_ids(unsigned* out, int blocks, int spin_us, cudaStream_t stream) {
  record_sm_ids_kernel<<<blocks, 32, 0, stream>>>(out, 1000ull * static_cast<unsigned long long>(spin_us));
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

std::vector<unsigned> record_sm_ids(cudaStream_t stream, int blocks, int spin_us) {
  DeviceBuffer ids(sizeof(unsigned) * static_cast<size_t>(blocks));
  launch_record_sm_ids(ids.as<unsigned>(), blocks, spin_us, stream);
  std::vector<unsigned> host(static_cast<size_t>(blocks));
  DSTACK_CUDA_CHECK(cudaMemcpyAsync(host.data(), ids.data(), ids.bytes(), cudaMemcpyDeviceToHost, stream));
  DSTACK_CUDA_CHECK(cudaStreamSynchronize(stream));
  return host;
}

std::vector<unsigned> distinct_sm_ids(const std::vector<unsigned>& ids) {
  std::vector<unsigned> d = ids;
  std::sort(d.begin(), d.end());
  d.erase(std::unique(d.begin(), d.end()), d.end());
  return d;
}

}  // namespace dstack::cuda
