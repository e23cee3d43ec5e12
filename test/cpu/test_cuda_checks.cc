// CUDA-side code that runs without a device: the checking macros and the no-driver path.
#include <gtest/gtest.h>

#include "runtime/backend/cuda/check.h"
#include "runtime/backend/cuda/check_cublas.h"
#include "runtime/backend/cuda/driver_api.h"
#include "runtime/backend/gpu_info.h"
#ifdef DSTACK_HAVE_CUDNN
#include "runtime/backend/cuda/check_cudnn.h"
#endif

namespace dstack::cuda {
namespace {

template <typename F>
ApiFailure failure_of(F&& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e.failure();
  }
  ADD_FAILURE() << "no ApiError thrown";
  return {};
}

TEST(CudaCheck, SuccessDoesNotThrow) {
  EXPECT_NO_THROW(DSTACK_CUDA_CHECK(cudaSuccess));
  EXPECT_NO_THROW(DSTACK_CU_CHECK(CUDA_SUCCESS));
  EXPECT_NO_THROW(DSTACK_CUBLAS_CHECK(CUBLAS_STATUS_SUCCESS));
}

TEST(CudaCheck, RuntimeFailureNamesCallAndLine) {
  const int line = __LINE__ + 1;
  ApiFailure f = failure_of([] { DSTACK_CUDA_CHECK(cudaErrorInvalidValue); });
  EXPECT_EQ(f.family, ApiFamily::Runtime);
  EXPECT_EQ(f.call, "cudaErrorInvalidValue");
  EXPECT_EQ(f.code_name, "cudaErrorInvalidValue");
  EXPECT_EQ(f.code, static_cast<long long>(cudaErrorInvalidValue));
  EXPECT_EQ(f.line, line);
  EXPECT_NE(f.file.find("test_cuda_checks.cc"), std::string::npos);
  EXPECT_FALSE(f.description.empty());
}

TEST(CudaCheck, DriverFailureNamesTheCode) {
  ApiFailure f = failure_of([] { DSTACK_CU_CHECK(CUDA_ERROR_INVALID_VALUE); });
  EXPECT_EQ(f.family, ApiFamily::Driver);
  EXPECT_EQ(f.code, 1);
  // With a driver the name comes from cuGetErrorName; without one the number is all there is.
  if (driver_if_loaded())
    EXPECT_EQ(f.code_name, "CUDA_ERROR_INVALID_VALUE");
  else
    EXPECT_EQ(f.code_name, "CUresult 1");
}

TEST(CudaCheck, CublasFailureNamesTheStatus) {
  ApiFailure f = failure_of([] { DSTACK_CUBLAS_CHECK(CUBLAS_STATUS_INVALID_VALUE); });
  EXPECT_EQ(f.family, ApiFamily::Cublas);
  EXPECT_EQ(f.code_name, "CUBLAS_STATUS_INVALID_VALUE");
  EXPECT_FALSE(f.description.empty());
}

#ifdef DSTACK_HAVE_CUDNN
TEST(CudaCheck, CudnnFailureNamesTheStatus) {
  ApiFailure f = failure_of([] { DSTACK_CUDNN_CHECK(CUDNN_STATUS_BAD_PARAM); });
  EXPECT_EQ(f.family, ApiFamily::Cudnn);
  EXPECT_EQ(f.code_name, "CUDNN_STATUS_BAD_PARAM");
}
#endif

TEST(GpuProbe, NeverThrowsAndExplainsAbsence) {
  GpuReport r;
  ASSERT_NO_THROW(r = probe_gpus());
  EXPECT_TRUE(r.cuda_compiled);
  EXPECT_GT(r.runtime_version, 0);
  if (!r.usable()) {
    EXPECT_FALSE(r.unavailable_reason.empty());
    EXPECT_TRUE(r.devices.empty());
    // The same reason reaches anyone who asks for the driver directly.
    try {
      driver();
      ADD_FAILURE() << "driver() succeeded although probe_gpus() found no usable GPU";
    } catch (const DriverUnavailable& e) {
      EXPECT_NE(std::string(e.what()).find("cudaGetDeviceCount"), std::string::npos) << e.what();
    }
  } else {
    EXPECT_GE(r.driver_version, 12000);
  }
}

}  // namespace
}  // namespace dstack::cuda
