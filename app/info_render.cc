#include "app/info_render.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace dstack::app {
namespace {

double gib(std::size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0); }
double mib(std::size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

// The vendor backend (cuDNN + cuBLAS), the reference every kernel and model is timed against.
std::string vendor_line(const BuildInfo& b) {
  if (b.vendor_compiled) return fmt::format("vendor:  vendor backend: {} compiled in\n", b.vendor_versions);
  return fmt::format("vendor:  vendor backend: not built ({})\n",
                     b.vendor_missing.empty() ? std::string("cuDNN/cuBLAS not looked for") : b.vendor_missing);
}

std::string build_line(const BuildInfo& b) {
  std::string cuda = b.cuda_compiled
                         ? fmt::format("CUDA {} compiled in for sm_{}, runtime linked statically, Driver API via "
                                       "entry points (no libcuda link)",
                                       b.cuda_toolkit_version, fmt::join(b.cuda_architectures, ", sm_"))
                         : std::string("CUDA backend not compiled in");
  return fmt::format("dstack {} (commit {}{}, {} build, {})\nbuild:   {}\n{}", b.version, b.commit,
                     b.dirty ? "+dirty" : "", b.build_type, b.cxx_compiler, cuda, vendor_line(b));
}

}  // namespace

std::string render_info_text(const BuildInfo& build, const GpuReport& gpus) {
  std::string out = build_line(build);
  if (!gpus.usable()) {
    out += fmt::format("GPU:     none found: {}\n", gpus.unavailable_reason);
    out += "backend: no GPU runs here; the simulator stands in for one (dstack sim run MODEL --batch N; dstack run CONFIG.yaml)\n";
    return out;
  }
  out += fmt::format("driver:  CUDA {} (runtime {})\n", cuda_version_string(gpus.driver_version),
                     cuda_version_string(gpus.runtime_version));
  for (const GpuDevice& d : gpus.devices) {
    out += fmt::format("GPU {}:   {} [{}], compute capability {}.{}, {} SMs, {:.1f} GiB\n", d.ordinal, d.name,
                       d.pci_bus_id, d.cc_major, d.cc_minor, d.sm_count, gib(d.total_memory_bytes));
    out += fmt::format("         per SM: {} threads, {} blocks, {} registers, {:.0f} KiB shared; L2 {:.0f} MiB; "
                       "SM clock {} MHz, memory clock {} MHz, {}-bit bus\n",
                       d.max_threads_per_sm, d.max_blocks_per_sm, d.registers_per_sm,
                       static_cast<double>(d.shared_memory_per_sm_bytes) / 1024.0, mib(d.l2_cache_bytes),
                       d.sm_clock_khz / 1000, d.memory_clock_khz / 1000, d.memory_bus_width_bits);
    if (d.green_contexts) {
      const auto& g = *d.green_contexts;
      out += fmt::format("         green contexts: minimum partition {} SMs, alignment {} SMs; splits into {} groups of {} SMs\n"
                         "         partition sizes {} (the last is the whole GPU)\n",
                         g.min_partition_sms, g.coscheduled_alignment, g.split_groups, g.split_group_sms,
                         g.partition_sizes);
    } else {
      out += fmt::format("         green contexts: unavailable: {}\n", d.green_context_error);
    }
  }
  out += "backend: GPU runs available (dstack infer --backend gpu); the simulator stays available (dstack sim run)\n";
  return out;
}

nlohmann::json render_info_json(const BuildInfo& b, const GpuReport& gpus) {
  nlohmann::json j;
  j["build"] = {{"version", b.version},
                {"commit", b.commit},
                {"dirty", b.dirty},
                {"build_type", b.build_type},
                {"cxx_compiler", b.cxx_compiler},
                {"cuda_compiled", b.cuda_compiled},
                {"cuda_toolkit_version", b.cuda_toolkit_version},
                {"cuda_architectures", b.cuda_architectures},
                {"vendor_backend", {{"compiled", b.vendor_compiled},
                                    {"versions", b.vendor_versions},
                                    {"missing", b.vendor_missing}}}};
  nlohmann::json g;
  g["available"] = gpus.usable();
  g["reason"] = gpus.unavailable_reason;
  g["driver_version"] = cuda_version_string(gpus.driver_version);
  g["runtime_version"] = cuda_version_string(gpus.runtime_version);
  g["devices"] = nlohmann::json::array();
  for (const GpuDevice& d : gpus.devices) {
    nlohmann::json dj = {{"ordinal", d.ordinal},
                         {"name", d.name},
                         {"pci_bus_id", d.pci_bus_id},
                         {"sm_count", d.sm_count},
                         {"compute_capability", fmt::format("{}.{}", d.cc_major, d.cc_minor)},
                         {"total_memory_bytes", d.total_memory_bytes},
                         {"max_threads_per_sm", d.max_threads_per_sm},
                         {"max_blocks_per_sm", d.max_blocks_per_sm},
                         {"registers_per_sm", d.registers_per_sm},
                         {"shared_memory_per_sm_bytes", d.shared_memory_per_sm_bytes},
                         {"l2_cache_bytes", d.l2_cache_bytes},
                         {"sm_clock_khz", d.sm_clock_khz},
                         {"memory_clock_khz", d.memory_clock_khz},
                         {"memory_bus_width_bits", d.memory_bus_width_bits}};
    if (d.green_contexts) {
      dj["green_contexts"] = {{"sm_count", d.green_contexts->sm_count},
                              {"min_partition_sms", d.green_contexts->min_partition_sms},
                              {"coscheduled_alignment", d.green_contexts->coscheduled_alignment},
                              {"split_group_sms", d.green_contexts->split_group_sms},
                              {"split_groups", d.green_contexts->split_groups},
                              {"partition_sizes", d.green_contexts->partition_sizes}};
    } else {
      dj["green_contexts"] = nullptr;
      dj["green_context_error"] = d.green_context_error;
    }
    g["devices"].push_back(dj);
  }
  j["gpu"] = g;
  j["backend"] = gpus.usable() ? "gpu" : "sim";
  return j;
}

}  // namespace dstack::app
