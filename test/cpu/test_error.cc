#include <gtest/gtest.h>

#include "runtime/core/error.h"

namespace dstack {
namespace {

ApiFailure sample(ApiFamily family) {
  return {family, 2, "cudaErrorMemoryAllocation", "out of memory", "cudaMalloc(&p, n)",
          "/home/someone/dstack/runtime/backend/cuda/arena.cc", 42};
}

TEST(ApiError, MessageNamesFamilyCallFileLineAndCode) {
  std::string msg = format_api_failure(sample(ApiFamily::Runtime));
  EXPECT_EQ(msg,
            "CUDA runtime call `cudaMalloc(&p, n)` failed at runtime/backend/cuda/arena.cc:42: "
            "cudaErrorMemoryAllocation (2): out of memory");
}

TEST(ApiError, EachFamilyHasItsOwnName) {
  EXPECT_EQ(api_family_name(ApiFamily::Runtime), "CUDA runtime");
  EXPECT_EQ(api_family_name(ApiFamily::Driver), "CUDA driver");
  EXPECT_EQ(api_family_name(ApiFamily::Cublas), "cuBLAS");
  EXPECT_EQ(api_family_name(ApiFamily::Cudnn), "cuDNN");
  EXPECT_NE(format_api_failure(sample(ApiFamily::Cudnn)).find("cuDNN call"), std::string::npos);
}

TEST(ApiError, PathOutsideTheSourceTreeIsKeptWhole) {
  ApiFailure f = sample(ApiFamily::Driver);
  f.file = "/usr/include/thing.h";
  EXPECT_NE(format_api_failure(f).find("/usr/include/thing.h:42"), std::string::npos);
}

TEST(ApiError, CarriesTheStructuredFailure) {
  try {
    throw ApiError(sample(ApiFamily::Cublas));
  } catch (const std::runtime_error& e) {
    const auto* api = dynamic_cast<const ApiError*>(&e);
    ASSERT_NE(api, nullptr);
    EXPECT_EQ(api->failure().code, 2);
    EXPECT_EQ(api->failure().line, 42);
    EXPECT_STREQ(e.what(), format_api_failure(sample(ApiFamily::Cublas)).c_str());
  }
}

}  // namespace
}  // namespace dstack
