#include <gtest/gtest.h>

#include "app/info_render.h"

namespace dstack::app {
namespace {

BuildInfo cuda_build() {
  return {"0.1.0", "abcdef123456", false, "Release", "GNU 12.2.0", true, "13.0.88", {80, 90}};
}

GpuReport no_driver() {
  GpuReport r;
  r.cuda_compiled = true;
  r.runtime_version = 13000;
  r.unavailable_reason = "no usable CUDA driver/device: cudaGetDeviceCount returned cudaErrorInsufficientDriver";
  return r;
}

GpuReport one_h100() {
  GpuReport r;
  r.cuda_compiled = true;
  r.driver_version = 13000;
  r.runtime_version = 13000;
  GpuDevice d;
  d.name = "NVIDIA H100 80GB HBM3";
  d.pci_bus_id = "0000:00:05.0";
  d.sm_count = 132;
  d.cc_major = 9;
  d.total_memory_bytes = 85ull << 30;
  d.green_contexts = SmPartitionGranularity{132, 8, 8, 8, 3, {8, 16, 24, 132}};
  r.devices.push_back(d);
  return r;
}

TEST(InfoText, WithoutADriverSaysSoAndNamesTheSimulator) {
  std::string t = render_info_text(cuda_build(), no_driver());
  EXPECT_NE(t.find("GPU:     none found: no usable CUDA driver/device"), std::string::npos) << t;
  EXPECT_NE(t.find("the simulator stands in for one (dstack sim run"), std::string::npos) << t;
  EXPECT_NE(t.find("CUDA 13.0.88 compiled in for sm_80, sm_90"), std::string::npos) << t;
}

TEST(InfoText, WithoutCudaSaysTheBackendIsNotCompiledIn) {
  BuildInfo b = cuda_build();
  b.cuda_compiled = false;
  b.cuda_architectures.clear();
  EXPECT_NE(render_info_text(b, no_driver()).find("CUDA backend not compiled in"), std::string::npos);
}

TEST(InfoText, WithAGpuPrintsDeviceAndGranularity) {
  std::string t = render_info_text(cuda_build(), one_h100());
  EXPECT_NE(t.find("NVIDIA H100 80GB HBM3"), std::string::npos) << t;
  EXPECT_NE(t.find("compute capability 9.0, 132 SMs, 85.0 GiB"), std::string::npos) << t;
  EXPECT_NE(t.find("minimum partition 8 SMs, alignment 8 SMs; splits into 3 groups of 8 SMs"), std::string::npos)
      << t;
  EXPECT_NE(t.find("partition sizes [8, 16, 24, 132] (the last is the whole GPU)"), std::string::npos) << t;
  EXPECT_NE(t.find("driver:  CUDA 13.0"), std::string::npos) << t;
}

TEST(InfoText, GreenContextFailureIsExplained) {
  GpuReport r = one_h100();
  r.devices[0].green_contexts.reset();
  r.devices[0].green_context_error = "needs CUDA >= 12.5";
  EXPECT_NE(render_info_text(cuda_build(), r).find("green contexts: unavailable: needs CUDA >= 12.5"),
            std::string::npos);
}

TEST(InfoJson, CarriesProvenanceAndBackend) {
  auto j = render_info_json(cuda_build(), no_driver());
  EXPECT_EQ(j["build"]["commit"], "abcdef123456");
  EXPECT_EQ(j["gpu"]["available"], false);
  EXPECT_EQ(j["backend"], "sim");
  auto g = render_info_json(cuda_build(), one_h100());
  EXPECT_EQ(g["backend"], "gpu");
  EXPECT_EQ(g["gpu"]["devices"][0]["sm_count"], 132);
  EXPECT_EQ(g["gpu"]["devices"][0]["green_contexts"]["min_partition_sms"], 8);
  EXPECT_EQ(g["gpu"]["devices"][0]["green_contexts"]["split_groups"], 3);
  EXPECT_EQ(g["gpu"]["driver_version"], "13.0");
}

TEST(CudaVersionString, FormatsMajorMinor) {
  EXPECT_EQ(cuda_version_string(13000), "13.0");
  EXPECT_EQ(cuda_version_string(12050), "12.5");
  EXPECT_EQ(cuda_version_string(0), "none");
}

}  // namespace
}  // namespace dstack::app
