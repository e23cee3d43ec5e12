#include <gtest/gtest.h>

#include <vector>

#include "runtime/backend/cuda/resources.h"
#include "test/gpu/gpu_test_env.h"

namespace dstack::cuda {
namespace {

TEST(GpuResources, BufferRoundTripsThroughAStream) {
  DSTACK_REQUIRE_GPU();
  Stream stream;
  DeviceBuffer buf(1000 * sizeof(int));
  std::vector<int> in(1000), out(1000, 0);
  for (int i = 0; i < 1000; ++i) in[static_cast<size_t>(i)] = i * 7 - 3;
  DSTACK_CUDA_CHECK(cudaMemcpyAsync(buf.data(), in.data(), buf.bytes(), cudaMemcpyHostToDevice, stream.get()));
  DSTACK_CUDA_CHECK(cudaMemcpyAsync(out.data(), buf.data(), buf.bytes(), cudaMemcpyDeviceToHost, stream.get()));
  stream.synchronize();
  EXPECT_EQ(in, out);
}

TEST(GpuResources, EventsTimeWork) {
  DSTACK_REQUIRE_GPU();
  Stream stream;
  Event start, stop;
  DeviceBuffer buf(64 << 20);
  start.record(stream.get());
  DSTACK_CUDA_CHECK(cudaMemsetAsync(buf.data(), 0, buf.bytes(), stream.get()));
  stop.record(stream.get());
  stop.synchronize();
  EXPECT_GT(stop.elapsed_ms_since(start), 0.f);
}

TEST(GpuResources, OversizedAllocationThrowsApiError) {
  DSTACK_REQUIRE_GPU();
  try {
    DeviceBuffer huge(std::size_t{1} << 50);  // 1 PiB
    FAIL() << "a 1 PiB allocation succeeded";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.failure().family, ApiFamily::Runtime);
    EXPECT_NE(std::string(e.what()).find("cudaMalloc"), std::string::npos) << e.what();
  }
  // The failure is not sticky: the device still works.
  EXPECT_NO_THROW(DeviceBuffer(1024));
}

}  // namespace
}  // namespace dstack::cuda
