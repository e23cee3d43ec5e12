#pragma once
// A GPU as the simulator sees it, loaded from a JSON description in devices/ (one file per GPU,
// every number with its source). The loader checks every field and names the file and the field
// in its errors. CPU only, no CUDA header.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "kernels/occupancy.h"
#include "runtime/backend/gpu_info.h"

namespace dstack::sim {

// Launch and partition costs, microseconds.
struct DeviceTiming {
  double launch_overhead_us = 0;      // host time of one cudaLaunchKernel (per-kernel dispatch)
  double kernel_gap_us = 0;           // device-side gap between dependent kernels of a stream
  double graph_launch_us = 0;         // one cudaGraphLaunch for a whole plan
  double graph_kernel_gap_us = 0;     // gap between kernel nodes of a graph
  double partition_switch_us = 0;     // moving a model to another existing partition
  double partition_create_us = 0;     // creating one green-context partition
};

// Parameters of the simulator's model that no datasheet gives (documented in README, Simulator).
struct DeviceModelParams {
  double sm_dram_bandwidth_gbs = 0;   // most DRAM traffic one SM sustains
  int warps_to_saturate_sm = 0;       // resident warps an SM needs for its peak rate
  double block_latency_us = 0;        // fixed time of every thread block besides its work
};

struct DeviceSpec {
  std::string name;        // "h100_sxm" (the file's stem)
  std::string full_name;   // "NVIDIA H100 SXM5 80GB"
  std::string file;        // the file it was loaded from
  int arch = 0;            // 90 = sm_90
  int sm_count = 0;
  double clock_mhz = 0;
  double memory_gib = 0;
  double fp32_tflops = 0;    // CUDA cores, whole GPU
  double tensor_tflops = 0;  // fp16/bf16 tensor cores with fp32 accumulation, dense, whole GPU
  double dram_bandwidth_gbs = 0;
  long long l2_bytes = 0;
  // Per-SM limits exactly as kernels::SmLimits wants them (example_gpu is filled by sm_limits()).
  kernels::SmLimits sm;
  int partition_min_sms = 0;
  int partition_alignment = 0;
  int split_group_sms = 0;
  int split_groups = 0;
  DeviceTiming timing;
  DeviceModelParams model;
  std::map<std::string, std::string> sources;  // field path -> citation

  // The SM limits with example_gpu pointing at full_name (valid while this spec lives).
  kernels::SmLimits sm_limits() const;
  // The green-context granularity, shaped like the CUDA backend's query result.
  SmPartitionGranularity granularity() const;
  // Per-SM peak rates derived from the whole-GPU numbers.
  double fp32_flops_per_sm() const { return fp32_tflops * 1e12 / sm_count; }
  double tensor_flops_per_sm() const { return tensor_tflops * 1e12 / sm_count; }
  double dram_bytes_per_s() const { return dram_bandwidth_gbs * 1e9; }
  double sm_dram_bytes_per_s() const { return model.sm_dram_bandwidth_gbs * 1e9; }
};

// The folder of shipped descriptions: $DSTACK_DEVICES_DIR when set, else the source tree's
// devices/ (a compile definition).
std::filesystem::path devices_dir();

// The names of the shipped descriptions (file stems), sorted.
std::vector<std::string> shipped_device_names();

// Loads and validates one file. Throws std::invalid_argument naming the file and the field: missing,
// wrong type, not positive, unknown field, a field without a source, or inconsistent limits.
DeviceSpec load_device_file(const std::filesystem::path& file);

// Parses a description from JSON text; `origin` names it in errors (a path or "<test>").
DeviceSpec parse_device_json(const std::string& text, const std::string& origin);

// A shipped description by name ("h100_sxm"; "h100" is accepted for it), or a file of the same
// format when the name ends in ".json". Throws
// std::invalid_argument listing the shipped names and where it looked when there is no such file.
DeviceSpec load_device(const std::string& name);

}  // namespace dstack::sim
