#include "runtime/sim/device_match.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

namespace dstack::sim {

std::string device_name_for_gpu(const std::string& gpu_name) {
  std::string n = gpu_name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // Most specific first: the H200 before anything that might also match it.
  static const std::vector<std::pair<std::string, std::string>> table = {
      {"h200", "h200"}, {"h100", "h100_sxm"}, {"a100", "a100"}, {"v100", "v100"}, {" t4", "t4"}};
  for (const auto& [key, file] : table)
    if (n.find(key) != std::string::npos) return file;
  return {};
}

MatchedDevice match_device(const GpuDevice& gpu) {
  const std::string name = device_name_for_gpu(gpu.name);
  if (name.empty())
    throw std::invalid_argument(fmt::format("no shipped device description matches the GPU '{}' (shipped: {}); add "
                                            "one to devices/ (see README, Simulator) for the policies to plan with",
                                            gpu.name, fmt::join(shipped_device_names(), ", ")));
  if (!gpu.green_contexts)
    throw std::invalid_argument(fmt::format("the GPU '{}' has no green contexts: {}", gpu.name,
                                            gpu.green_context_error));
  MatchedDevice m{load_device(name), {}};
  DeviceSpec& d = m.spec;
  const SmPartitionGranularity& g = *gpu.green_contexts;
  auto adjust = [&](const char* what, auto& field, auto value) {
    if (field == value) return;
    m.notes.push_back(fmt::format("{} has {} {}, the GPU reports {}: using {}", d.file, what, field, value, value));
    field = value;
  };
  if (d.sm_count != gpu.sm_count) {
    // The file's per-SM rates stand; the whole-GPU rates follow the SM count.
    const double scale = static_cast<double>(gpu.sm_count) / d.sm_count;
    d.fp32_tflops *= scale;
    d.tensor_tflops *= scale;
    adjust("SM count", d.sm_count, gpu.sm_count);
    m.notes.back() += " (FP32 and tensor rates scaled with it; DRAM bandwidth as in the file)";
  }
  adjust("minimum partition", d.partition_min_sms, g.min_partition_sms);
  adjust("partition alignment", d.partition_alignment, g.coscheduled_alignment);
  adjust("split group size", d.split_group_sms, g.split_group_sms);
  adjust("split groups", d.split_groups, g.split_groups);
  const double gib = static_cast<double>(gpu.total_memory_bytes) / (1ull << 30);
  if (gpu.total_memory_bytes > 0 && std::abs(gib - d.memory_gib) > 0.05 * d.memory_gib) {
    m.notes.push_back(fmt::format("{} has {} GiB, the GPU reports {:.1f} GiB: using {:.1f}", d.file, d.memory_gib, gib,
                                  gib));
    d.memory_gib = gib;
  }
  return m;
}

}  // namespace dstack::sim
