#include "runtime/sim/device_spec.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#ifndef DSTACK_DEVICES_DIR
#error "DSTACK_DEVICES_DIR (the source tree's devices/ folder) must be defined by the build"
#endif

namespace dstack::sim {
namespace {

using nlohmann::json;

// One numeric field of the file: where it lives ("sm.max_threads_per_sm"), whether it must be an
// integer, whether zero is allowed, and where it goes.
struct Field {
  std::string path;
  bool integer;
  bool zero_ok;
  std::function<void(DeviceSpec&, double)> set;
};

std::vector<Field> numeric_fields() {
  auto i = [](std::string p, auto member, bool zero_ok = false) {
    return Field{std::move(p), true, zero_ok, [member](DeviceSpec& d, double v) { member(d) = static_cast<int>(v); }};
  };
  auto f = [](std::string p, auto member, bool zero_ok = false) {
    return Field{std::move(p), false, zero_ok, [member](DeviceSpec& d, double v) { member(d) = v; }};
  };
  return {
      i("arch", [](DeviceSpec& d) -> int& { return d.arch; }),
      i("sm_count", [](DeviceSpec& d) -> int& { return d.sm_count; }),
      f("clock_mhz", [](DeviceSpec& d) -> double& { return d.clock_mhz; }),
      f("memory_gib", [](DeviceSpec& d) -> double& { return d.memory_gib; }),
      f("fp32_tflops", [](DeviceSpec& d) -> double& { return d.fp32_tflops; }),
      f("tensor_tflops", [](DeviceSpec& d) -> double& { return d.tensor_tflops; }),
      f("dram_bandwidth_gbs", [](DeviceSpec& d) -> double& { return d.dram_bandwidth_gbs; }),
      Field{"l2_bytes", true, false, [](DeviceSpec& d, double v) { d.l2_bytes = static_cast<long long>(v); }},
      i("sm.warp_size", [](DeviceSpec& d) -> int& { return d.sm.warp_size; }),
      i("sm.max_threads_per_block", [](DeviceSpec& d) -> int& { return d.sm.max_threads_per_block; }),
      i("sm.max_threads_per_sm", [](DeviceSpec& d) -> int& { return d.sm.max_threads_per_sm; }),
      i("sm.max_blocks_per_sm", [](DeviceSpec& d) -> int& { return d.sm.max_blocks_per_sm; }),
      i("sm.registers_per_sm", [](DeviceSpec& d) -> int& { return d.sm.registers_per_sm; }),
      i("sm.max_registers_per_block", [](DeviceSpec& d) -> int& { return d.sm.max_registers_per_block; }),
      i("sm.max_registers_per_thread", [](DeviceSpec& d) -> int& { return d.sm.max_registers_per_thread; }),
      i("sm.register_alloc_unit", [](DeviceSpec& d) -> int& { return d.sm.register_alloc_unit; }),
      i("sm.register_sub_partitions", [](DeviceSpec& d) -> int& { return d.sm.register_sub_partitions; }),
      i("sm.shared_bytes_per_sm", [](DeviceSpec& d) -> int& { return d.sm.shared_bytes_per_sm; }),
      i("sm.max_shared_bytes_per_block", [](DeviceSpec& d) -> int& { return d.sm.max_shared_bytes_per_block; }),
      // Zero before sm_80: older GPUs reserve no shared memory per block.
      i("sm.reserved_shared_bytes_per_block", [](DeviceSpec& d) -> int& { return d.sm.reserved_shared_bytes_per_block; },
        true),
      i("sm.shared_alloc_unit", [](DeviceSpec& d) -> int& { return d.sm.shared_alloc_unit; }),
      // Zero: barriers do not limit occupancy (the occupancy calculator limits them from 9.0 on).
      i("sm.barrier_slots_per_sm", [](DeviceSpec& d) -> int& { return d.sm.barrier_slots_per_sm; }, true),
      i("partition.min_sms", [](DeviceSpec& d) -> int& { return d.partition_min_sms; }),
      i("partition.alignment", [](DeviceSpec& d) -> int& { return d.partition_alignment; }),
      i("partition.split_group_sms", [](DeviceSpec& d) -> int& { return d.split_group_sms; }),
      i("partition.split_groups", [](DeviceSpec& d) -> int& { return d.split_groups; }),
      f("timing.launch_overhead_us", [](DeviceSpec& d) -> double& { return d.timing.launch_overhead_us; }, true),
      f("timing.kernel_gap_us", [](DeviceSpec& d) -> double& { return d.timing.kernel_gap_us; }, true),
      f("timing.graph_launch_us", [](DeviceSpec& d) -> double& { return d.timing.graph_launch_us; }, true),
      f("timing.graph_kernel_gap_us", [](DeviceSpec& d) -> double& { return d.timing.graph_kernel_gap_us; }, true),
      f("timing.partition_switch_us", [](DeviceSpec& d) -> double& { return d.timing.partition_switch_us; }, true),
      f("timing.partition_create_us", [](DeviceSpec& d) -> double& { return d.timing.partition_create_us; }, true),
      f("model.sm_dram_bandwidth_gbs", [](DeviceSpec& d) -> double& { return d.model.sm_dram_bandwidth_gbs; }),
      i("model.warps_to_saturate_sm", [](DeviceSpec& d) -> int& { return d.model.warps_to_saturate_sm; }),
      f("model.block_latency_us", [](DeviceSpec& d) -> double& { return d.model.block_latency_us; }, true),
  };
}

const std::vector<std::string> kStringFields = {"name", "full_name"};
const std::vector<std::string> kGroups = {"sm", "partition", "timing", "model"};

[[noreturn]] void fail(const std::string& origin, const std::string& what) {
  throw std::invalid_argument("device description " + origin + ": " + what);
}

// The JSON node at "group.key" (or "key"); nullptr when absent.
const json* lookup(const json& root, const std::string& path) {
  const auto dot = path.find('.');
  if (dot == std::string::npos) return root.contains(path) ? &root.at(path) : nullptr;
  const std::string group = path.substr(0, dot);
  if (!root.contains(group) || !root.at(group).is_object()) return nullptr;
  const json& g = root.at(group);
  const std::string key = path.substr(dot + 1);
  return g.contains(key) ? &g.at(key) : nullptr;
}

std::string type_name(const json& v) { return v.type_name(); }

// Every field needs a citation: its own ("sm.shared_alloc_unit") or its group's ("sm").
void check_sources(const DeviceSpec& d, const std::string& origin) {
  std::vector<std::string> need = {"full_name"};
  for (const Field& f : numeric_fields()) need.push_back(f.path);
  for (const std::string& path : need) {
    const std::string group = path.substr(0, path.find('.'));
    if (!d.sources.count(path) && !d.sources.count(group))
      fail(origin, "field '" + path + "' has no source: add \"" + path + "\" (or \"" + group +
                       "\") to \"sources\" with the datasheet, whitepaper or measurement it comes from");
  }
}

// Limits that must agree with each other, checked so a typo cannot give a nonsense occupancy.
void check_consistency(const DeviceSpec& d, const std::string& origin) {
  auto bad = [&](const std::string& field, const std::string& why) { fail(origin, "field '" + field + "' " + why); };
  if (d.sm.max_threads_per_sm % d.sm.warp_size != 0) bad("sm.max_threads_per_sm", "must be a multiple of sm.warp_size");
  if (d.sm.max_threads_per_block > d.sm.max_threads_per_sm)
    bad("sm.max_threads_per_block", "exceeds sm.max_threads_per_sm");
  if (d.sm.max_registers_per_block > d.sm.registers_per_sm)
    bad("sm.max_registers_per_block", "exceeds sm.registers_per_sm");
  if (d.sm.max_shared_bytes_per_block > d.sm.shared_bytes_per_sm)
    bad("sm.max_shared_bytes_per_block", "exceeds sm.shared_bytes_per_sm");
  if (d.partition_min_sms > d.sm_count) bad("partition.min_sms", "exceeds sm_count");
  if (d.split_group_sms < d.partition_min_sms) bad("partition.split_group_sms", "is below partition.min_sms");
  if (d.split_group_sms % d.partition_alignment != 0)
    bad("partition.split_group_sms", "must be a multiple of partition.alignment");
  if (static_cast<long long>(d.split_group_sms) * d.split_groups > d.sm_count)
    bad("partition.split_groups", "times partition.split_group_sms exceeds sm_count");
}

}  // namespace

kernels::SmLimits DeviceSpec::sm_limits() const {
  kernels::SmLimits l = sm;
  l.arch = arch;
  l.example_gpu = full_name;
  return l;
}

SmPartitionGranularity DeviceSpec::granularity() const {
  SmPartitionGranularity g;
  g.sm_count = sm_count;
  g.min_partition_sms = partition_min_sms;
  g.coscheduled_alignment = partition_alignment;
  g.split_group_sms = split_group_sms;
  g.split_groups = split_groups;
  for (int k = 1; k <= split_groups; ++k) g.partition_sizes.push_back(k * split_group_sms);
  if (g.partition_sizes.empty() || g.partition_sizes.back() != sm_count) g.partition_sizes.push_back(sm_count);
  return g;
}

DeviceSpec parse_device_json(const std::string& text, const std::string& origin) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number beyond double
    fail(origin, std::string("not valid JSON: ") + e.what());
  }
  if (!root.is_object()) fail(origin, "the top level must be a JSON object");

  DeviceSpec d;
  // Unknown fields are errors: a misspelt field would otherwise be silently ignored.
  std::set<std::string> known(kStringFields.begin(), kStringFields.end());
  known.insert("sources");
  for (const Field& f : numeric_fields()) known.insert(f.path);
  for (const auto& [key, value] : root.items()) {
    if (std::find(kGroups.begin(), kGroups.end(), key) != kGroups.end()) {
      if (!value.is_object()) fail(origin, "field '" + key + "' must be an object, not " + type_name(value));
      for (const auto& [sub, unused] : value.items())
        if (!known.count(key + "." + sub)) fail(origin, "unknown field '" + key + "." + sub + "'");
    } else if (!known.count(key)) {
      fail(origin, "unknown field '" + key + "'");
    }
  }
  for (const std::string& s : kStringFields) {
    const json* v = lookup(root, s);
    if (!v) fail(origin, "missing field '" + s + "'");
    if (!v->is_string() || v->get<std::string>().empty())
      fail(origin, "field '" + s + "' must be a non-empty string, not " + type_name(*v));
  }
  d.name = root.at("name").get<std::string>();
  d.full_name = root.at("full_name").get<std::string>();
  for (const Field& f : numeric_fields()) {
    const json* v = lookup(root, f.path);
    if (!v) fail(origin, "missing field '" + f.path + "'");
    if (!v->is_number()) fail(origin, "field '" + f.path + "' must be a number, not " + type_name(*v));
    if (f.integer && !v->is_number_integer())
      fail(origin, "field '" + f.path + "' must be an integer, not " + v->dump());
    const double x = v->get<double>();
    if (f.zero_ok ? x < 0 : x <= 0)
      fail(origin, "field '" + f.path + "' must be " + (f.zero_ok ? "non-negative" : "positive") + ", not " + v->dump());
    if (f.integer && x > 2147483647.0 && f.path != "l2_bytes") fail(origin, "field '" + f.path + "' is too large");
    f.set(d, x);
  }
  const json* sources = lookup(root, "sources");
  if (!sources) fail(origin, "missing field 'sources' (an object: field path -> citation)");
  if (!sources->is_object()) fail(origin, "field 'sources' must be an object, not " + type_name(*sources));
  for (const auto& [key, value] : sources->items()) {
    if (!value.is_string() || value.get<std::string>().empty())
      fail(origin, "field 'sources." + key + "' must be a non-empty string (the citation)");
    d.sources[key] = value.get<std::string>();
  }
  check_sources(d, origin);
  check_consistency(d, origin);
  d.file = origin;
  return d;
}

std::filesystem::path devices_dir() {
  if (const char* env = std::getenv("DSTACK_DEVICES_DIR"); env && *env) return env;
  return DSTACK_DEVICES_DIR;
}

std::vector<std::string> shipped_device_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(devices_dir(), ec))
    if (entry.is_regular_file() && entry.path().extension() == ".json") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

DeviceSpec load_device_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::invalid_argument("device description " + file.string() + ": cannot be read (missing?)");
  std::ostringstream text;
  text << in.rdbuf();
  DeviceSpec d = parse_device_json(text.str(), file.string());
  if (d.name != file.stem().string())
    fail(file.string(), "field 'name' is '" + d.name + "' but the file is named " + file.filename().string() +
                            ": they must agree");
  return d;
}

DeviceSpec load_device(const std::string& name) {
  if (name.ends_with(".json")) return load_device_file(name);  // a description of the user's own
  std::string stem = name;
  if (stem == "h100") stem = "h100_sxm";  // the H100 most papers mean
  const std::filesystem::path file = devices_dir() / (stem + ".json");
  if (!std::filesystem::exists(file)) {
    std::string shipped;
    for (const std::string& n : shipped_device_names()) shipped += (shipped.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown device '" + name + "': no file " + file.string() + " (looked in " +
                                devices_dir().string() + ", set by " +
                                (std::getenv("DSTACK_DEVICES_DIR") ? "DSTACK_DEVICES_DIR" : "the build") +
                                "); shipped devices: " + (shipped.empty() ? "none found there" : shipped));
  }
  return load_device_file(file);
}

}  // namespace dstack::sim
