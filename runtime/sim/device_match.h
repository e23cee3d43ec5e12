#pragma once
// The device description the policies plan with on a real GPU: the shipped file of that GPU (by the
// name the driver reports), with the SM count, green-context granularity and memory the driver
// reports in place of the file's, and a note for every value that differed. CPU only.
#include <string>
#include <vector>

#include "runtime/backend/gpu_info.h"
#include "runtime/sim/device_spec.h"

namespace dstack::sim {

struct MatchedDevice {
  DeviceSpec spec;                 // the file's description, adjusted to the GPU
  std::vector<std::string> notes;  // "devices/h100_sxm.json has 132 SMs, the GPU reports 114: using 114 ..."
};

// The shipped name for a GPU name: "NVIDIA H200" -> "h200", "NVIDIA H100 80GB HBM3" -> "h100_sxm",
// also A100, V100 and T4; empty when none describes it.
std::string device_name_for_gpu(const std::string& gpu_name);

// Throws std::invalid_argument for a GPU no shipped file describes (listing those there are) or
// one without green contexts (naming the driver's reason).
MatchedDevice match_device(const GpuDevice& gpu);

}  // namespace dstack::sim
