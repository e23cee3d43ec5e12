#include "test/gpu/gpu_test_env.h"

namespace dstack::test {

const GpuReport& gpu_report() {
  static const GpuReport report = probe_gpus();
  return report;
}

const std::string& no_gpu_reason() {
  static const std::string reason = gpu_report().usable() ? std::string() : gpu_report().unavailable_reason;
  return reason;
}

}  // namespace dstack::test
