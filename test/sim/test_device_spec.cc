// The device descriptions in devices/ and their loader: every shipped file loads, and every
// malformed field is reported with the file and the field.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/sim/device_spec.h"

namespace dstack::sim {
namespace {

using nlohmann::json;

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

json h100_json() { return json::parse(read_text(devices_dir() / "h100_sxm.json")); }

std::string error_of(const json& j) {
  try {
    parse_device_json(j.dump(), "test.json");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

// Every numeric field's path ("sm.max_threads_per_sm").
std::vector<std::string> numeric_paths(const json& j) {
  std::vector<std::string> paths;
  for (const auto& [k, v] : j.items()) {
    if (k == "sources") continue;
    if (v.is_object())
      for (const auto& [k2, v2] : v.items()) paths.push_back(k + "." + k2);
    else if (v.is_number())
      paths.push_back(k);
  }
  return paths;
}

json& at_path(json& j, const std::string& path) {
  const auto dot = path.find('.');
  return dot == std::string::npos ? j[path] : j[path.substr(0, dot)][path.substr(dot + 1)];
}

void erase_path(json& j, const std::string& path) {
  const auto dot = path.find('.');
  if (dot == std::string::npos) j.erase(path);
  else j[path.substr(0, dot)].erase(path.substr(dot + 1));
}

TEST(DeviceSpec, ShipsFiveDescriptionsThatLoad) {
  const auto names = shipped_device_names();
  EXPECT_EQ(names, (std::vector<std::string>{"a100", "h100_sxm", "h200", "t4", "v100"}));
  for (const auto& n : names) {
    const DeviceSpec d = load_device(n);
    EXPECT_EQ(d.name, n);
    EXPECT_GT(d.sm_count, 0);
    EXPECT_GT(d.fp32_flops_per_sm(), 0);
    EXPECT_NE(d.file.find(n + ".json"), std::string::npos);
  }
}

TEST(DeviceSpec, H100MatchesTheMeasuredGranularity) {
  const DeviceSpec d = load_device("h100");  // alias of h100_sxm
  EXPECT_EQ(d.name, "h100_sxm");
  EXPECT_EQ(d.arch, 90);
  EXPECT_EQ(d.sm_count, 132);
  EXPECT_EQ(d.sm.max_threads_per_sm, 2048);
  EXPECT_EQ(d.sm.shared_bytes_per_sm, 228 * 1024);
  const SmPartitionGranularity g = d.granularity();
  EXPECT_EQ(g.split_groups, 15);
  EXPECT_EQ(g.partition_sizes.front(), 8);
  EXPECT_EQ(g.partition_sizes[g.partition_sizes.size() - 2], 120);
  EXPECT_EQ(g.partition_sizes.back(), 132);
  EXPECT_DOUBLE_EQ(d.timing.partition_create_us, 1700);
  EXPECT_EQ(d.sm_limits().example_gpu, "NVIDIA H100 SXM5 80GB");
}

TEST(DeviceSpec, SmLimitsComeFromTheFile) {
  // The sm_80 and sm_90 files agree with kernels/occupancy.cc's table on every limit it has.
  for (const char* name : {"a100", "h100_sxm"}) {
    const DeviceSpec d = load_device(name);
    const kernels::SmLimits a = d.sm_limits(), b = kernels::sm_limits(d.arch);
    EXPECT_EQ(a.max_threads_per_sm, b.max_threads_per_sm) << name;
    EXPECT_EQ(a.max_blocks_per_sm, b.max_blocks_per_sm) << name;
    EXPECT_EQ(a.registers_per_sm, b.registers_per_sm) << name;
    EXPECT_EQ(a.shared_bytes_per_sm, b.shared_bytes_per_sm) << name;
    EXPECT_EQ(a.max_shared_bytes_per_block, b.max_shared_bytes_per_block) << name;
    EXPECT_EQ(a.reserved_shared_bytes_per_block, b.reserved_shared_bytes_per_block) << name;
    EXPECT_EQ(a.shared_alloc_unit, b.shared_alloc_unit) << name;
    EXPECT_EQ(a.barrier_slots_per_sm, b.barrier_slots_per_sm) << name;
  }
  // T4 (sm_75) has limits the occupancy table does not: 1024 threads and 16 blocks per SM.
  const DeviceSpec t4 = load_device("t4");
  EXPECT_EQ(t4.sm_limits().max_threads_per_sm, 1024);
  EXPECT_EQ(t4.sm_limits().max_blocks_per_sm, 16);
}

TEST(DeviceSpec, UnknownDeviceListsTheShippedOnesAndWhereItLooked) {
  try {
    load_device("h900");
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("unknown device 'h900'"), std::string::npos) << m;
    EXPECT_NE(m.find("a100, h100_sxm, h200, t4, v100"), std::string::npos) << m;
    EXPECT_NE(m.find("looked in " + devices_dir().string()), std::string::npos) << m;
  }
}

TEST(DeviceSpec, EnvironmentOverridesTheFolder) {
  const auto dir = std::filesystem::temp_directory_path() / "dstack_test_devices";
  std::filesystem::create_directories(dir);
  json j = h100_json();
  j["name"] = "mygpu";
  j["sm_count"] = 16;
  j["partition"]["split_groups"] = 2;
  std::ofstream(dir / "mygpu.json") << j.dump(2);
  ::setenv("DSTACK_DEVICES_DIR", dir.c_str(), 1);
  EXPECT_EQ(shipped_device_names(), std::vector<std::string>{"mygpu"});
  EXPECT_EQ(load_device("mygpu").sm_count, 16);
  try {
    load_device("h100_sxm");
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("DSTACK_DEVICES_DIR"), std::string::npos) << e.what();
  }
  ::unsetenv("DSTACK_DEVICES_DIR");
  std::filesystem::remove_all(dir);
}

TEST(DeviceSpec, EveryMissingFieldIsNamed) {
  const json good = h100_json();
  for (const std::string& path : numeric_paths(good)) {
    json j = good;
    erase_path(j, path);
    const std::string m = error_of(j);
    EXPECT_NE(m.find("test.json: missing field '" + path + "'"), std::string::npos) << path << ": " << m;
  }
  for (const char* field : {"name", "full_name", "sources"}) {
    json j = good;
    j.erase(field);
    EXPECT_NE(error_of(j).find(std::string("missing field '") + field + "'"), std::string::npos) << error_of(j);
  }
}

TEST(DeviceSpec, EveryWrongTypeIsNamed) {
  const json good = h100_json();
  for (const std::string& path : numeric_paths(good)) {
    json j = good;
    at_path(j, path) = "fast";
    const std::string m = error_of(j);
    EXPECT_NE(m.find("field '" + path + "' must be a number, not string"), std::string::npos) << path << ": " << m;
  }
  json j = good;
  j["sm"]["max_threads_per_sm"] = 2048.5;
  EXPECT_NE(error_of(j).find("field 'sm.max_threads_per_sm' must be an integer"), std::string::npos) << error_of(j);
  j = good;
  j["sm"] = 5;
  EXPECT_NE(error_of(j).find("field 'sm' must be an object"), std::string::npos) << error_of(j);
  j = good;
  j["name"] = 7;
  EXPECT_NE(error_of(j).find("field 'name' must be a non-empty string"), std::string::npos) << error_of(j);
}

TEST(DeviceSpec, EveryNonPositiveNumberIsNamed) {
  const json good = h100_json();
  for (const std::string& path : numeric_paths(good)) {
    json j = good;
    at_path(j, path) = -1;
    const std::string m = error_of(j);
    EXPECT_NE(m.find("field '" + path + "' must be"), std::string::npos) << path << ": " << m;
    EXPECT_NE(m.find("not -1"), std::string::npos) << path << ": " << m;
  }
  json j = good;
  j["sm_count"] = 0;
  EXPECT_NE(error_of(j).find("field 'sm_count' must be positive, not 0"), std::string::npos) << error_of(j);
  // Zero is fine where a GPU really has none (no per-block shared-memory reservation before sm_80).
  j = good;
  j["sm"]["reserved_shared_bytes_per_block"] = 0;
  EXPECT_EQ(error_of(j), "(no error)");
}

TEST(DeviceSpec, UnknownFieldsMissingSourcesAndBadJsonAreNamed) {
  json j = h100_json();
  j["sm"]["max_threads_per_SM"] = 2048;
  EXPECT_NE(error_of(j).find("unknown field 'sm.max_threads_per_SM'"), std::string::npos) << error_of(j);
  j = h100_json();
  j["dram_bandwith_gbs"] = 1;
  EXPECT_NE(error_of(j).find("unknown field 'dram_bandwith_gbs'"), std::string::npos) << error_of(j);
  j = h100_json();
  j["sources"].erase("dram_bandwidth_gbs");
  EXPECT_NE(error_of(j).find("field 'dram_bandwidth_gbs' has no source"), std::string::npos) << error_of(j);
  j = h100_json();
  j["sources"]["sm_count"] = "";
  EXPECT_NE(error_of(j).find("sources.sm_count"), std::string::npos) << error_of(j);
  try {
    parse_device_json("{\"name\": ", "broken.json");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("broken.json: not valid JSON"), std::string::npos) << e.what();
  }
  try {  // a number beyond double is nlohmann's out_of_range, not a parse_error: named all the same
    parse_device_json("{\"name\": 4e1943040}", "huge.json");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("huge.json: not valid JSON"), std::string::npos) << e.what();
  }
}

TEST(DeviceSpec, InconsistentLimitsAreNamed) {
  json j = h100_json();
  j["sm"]["max_threads_per_block"] = 4096;
  EXPECT_NE(error_of(j).find("field 'sm.max_threads_per_block' exceeds sm.max_threads_per_sm"), std::string::npos)
      << error_of(j);
  j = h100_json();
  j["partition"]["split_groups"] = 17;
  EXPECT_NE(error_of(j).find("field 'partition.split_groups'"), std::string::npos) << error_of(j);
}

TEST(DeviceSpec, FileNameMustMatchTheName) {
  const auto dir = std::filesystem::temp_directory_path() / "dstack_test_devices_name";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "other.json") << h100_json().dump();
  try {
    load_device_file(dir / "other.json");
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("field 'name' is 'h100_sxm' but the file is named other.json"),
              std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
  EXPECT_THROW(load_device_file(dir / "missing.json"), std::invalid_argument);
}

}  // namespace
}  // namespace dstack::sim
