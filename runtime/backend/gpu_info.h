#pragma once
// What the machine's GPUs are, as the CUDA driver reports them. Plain data on the CPU side: the CUDA
// backend fills it, the CLI prints it, and later the simulator and provenance records read it.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace dstack {

// The SM resource as green contexts see it (cuDeviceGetDevResource), never assumed.
struct SmPartitionGranularity {
  int sm_count = 0;               // SMs the resource holds
  int min_partition_sms = 0;      // minSmPartitionSize
  int coscheduled_alignment = 0;  // smCoscheduledAlignment: partition sizes step by this
  // What cuDevSmResourceSplitByCount(minCount = min_partition_sms) really yields: `split_groups`
  // disjoint groups of `split_group_sms` SMs. It need not cover the device (an H100's 132 SMs
  // split into 15 groups of 8: 120 SMs).
  int split_group_sms = 0;
  int split_groups = 0;
  // Partition sizes available: every k·split_group_sms for k = 1..split_groups, then the whole GPU
  // (sm_count, an ordinary stream), smallest first.
  std::vector<int> partition_sizes;
};

struct GpuDevice {
  int ordinal = 0;
  std::string name;
  std::string pci_bus_id;
  int sm_count = 0;
  int cc_major = 0;
  int cc_minor = 0;
  std::size_t total_memory_bytes = 0;
  int max_threads_per_sm = 0;
  int max_blocks_per_sm = 0;
  int registers_per_sm = 0;
  std::size_t shared_memory_per_sm_bytes = 0;
  std::size_t l2_cache_bytes = 0;
  int sm_clock_khz = 0;
  int memory_clock_khz = 0;
  int memory_bus_width_bits = 0;
  // Empty when green contexts are unavailable; green_context_error then says why.
  std::optional<SmPartitionGranularity> green_contexts;
  std::string green_context_error;
};

struct GpuReport {
  bool cuda_compiled = false;
  // Empty when a driver and at least one device were found; otherwise the reason none can be used.
  std::string unavailable_reason;
  int driver_version = 0;   // e.g. 13000 for CUDA 13.0, 0 when no driver
  int runtime_version = 0;  // the statically linked runtime's version
  std::vector<GpuDevice> devices;

  bool usable() const { return unavailable_reason.empty() && !devices.empty(); }
};

// Asks the CUDA driver; never throws for a missing driver or device (that is a report, not an
// error). Throws ApiError only when a present driver fails a call it should not.
GpuReport probe_gpus();

// "13.0" from 13000.
std::string cuda_version_string(int version);

}  // namespace dstack
