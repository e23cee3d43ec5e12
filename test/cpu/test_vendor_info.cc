// `dstack info` says whether the vendor backend (cuDNN + cuBLAS) is compiled in, and if not, why and
// how to fix it.
#include <gtest/gtest.h>

#include "app/info_render.h"
#include "dstack_vendor_config.h"
#include "runtime/core/build_info.h"

namespace dstack::app {
namespace {

BuildInfo cuda_build() {
  BuildInfo b{"0.1.0", "abcdef123456", false, "Release", "GNU 12.2.0", true, "13.0.88", {80, 90}};
  return b;
}

GpuReport no_driver() {
  GpuReport r;
  r.cuda_compiled = true;
  r.unavailable_reason = "no usable CUDA driver/device";
  return r;
}

TEST(VendorInfo, CompiledInNamesBothLibraries) {
  BuildInfo b = cuda_build();
  b.vendor_compiled = true;
  b.vendor_versions = "cuDNN 9.19.0 + cuBLAS 13.1.0";
  const std::string t = render_info_text(b, no_driver());
  EXPECT_NE(t.find("vendor backend: cuDNN 9.19.0 + cuBLAS 13.1.0 compiled in"), std::string::npos) << t;
  const auto j = render_info_json(b, no_driver());
  EXPECT_EQ(j["build"]["vendor_backend"]["compiled"], true);
  EXPECT_EQ(j["build"]["vendor_backend"]["versions"], "cuDNN 9.19.0 + cuBLAS 13.1.0");
}

TEST(VendorInfo, NotBuiltSaysWhyAndTheFix) {
  BuildInfo b = cuda_build();
  b.vendor_missing = "cuDNN not found; set DSTACK_CUDNN_ROOT";
  const std::string t = render_info_text(b, no_driver());
  EXPECT_NE(t.find("vendor backend: not built (cuDNN not found; set DSTACK_CUDNN_ROOT)"), std::string::npos) << t;
  EXPECT_EQ(t.find("vendor backend: cuDNN"), std::string::npos) << t;
  const auto j = render_info_json(b, no_driver());
  EXPECT_EQ(j["build"]["vendor_backend"]["compiled"], false);
  EXPECT_EQ(j["build"]["vendor_backend"]["missing"], "cuDNN not found; set DSTACK_CUDNN_ROOT");
}

// The binary's own facts match what CMake found at configure time.
TEST(VendorInfo, BuildInfoAgreesWithTheConfigure) {
  const BuildInfo& b = build_info();
#if DSTACK_VENDOR_BUILT
  EXPECT_TRUE(b.vendor_compiled);
  EXPECT_NE(b.vendor_versions.find("cuDNN " DSTACK_VENDOR_CUDNN_VERSION), std::string::npos) << b.vendor_versions;
  EXPECT_NE(b.vendor_versions.find("cuBLAS " DSTACK_VENDOR_CUBLAS_VERSION), std::string::npos) << b.vendor_versions;
  EXPECT_TRUE(b.vendor_missing.empty());
#else
  EXPECT_FALSE(b.vendor_compiled);
  EXPECT_FALSE(b.vendor_missing.empty()) << "a build without the vendor backend says why";
#endif
  EXPECT_NE(render_info_text(b, no_driver()).find("vendor backend: "), std::string::npos);
}

}  // namespace
}  // namespace dstack::app
