#pragma once
// Latency profiles (model, batch, SMs -> latency) as CSV, and the fidelity check that replays a
// profile's points on the simulator: per-point and summary relative error. A profile measured on a
// GPU checks the simulator; one made by the block mode checks the fast mode. CPU only.
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "kernels/precision.h"

namespace dstack::sim {

struct ProfilePoint {
  std::string model;
  int64_t batch = 1;
  int sms = 0;
  kernels::Precision precision = kernels::Precision::F32;
  double latency_ms = 0;
};

// Columns model,batch,sms,latency_ms and an optional precision (fp32 when absent), in any order;
// '#' lines are comments (provenance). Throws std::invalid_argument naming the file, line and column.
std::vector<ProfilePoint> read_profile_csv(const std::filesystem::path& file);

// Writes the header, `comments` as '#' lines first, then one line per point.
void write_profile_csv(std::ostream& out, const std::vector<ProfilePoint>& points,
                       const std::vector<std::string>& comments);

struct ValidationRow {
  ProfilePoint reference;
  double simulated_ms = 0;
  double relative_error = 0;  // |simulated - reference| / reference
};

struct ValidationReport {
  std::vector<ValidationRow> rows;
  double median_relative_error = 0;
  double max_relative_error = 0;
  double mean_relative_error = 0;
};

// Replays every point through `simulate` (-> latency in ms) and summarises the errors.
ValidationReport validate_profile(const std::vector<ProfilePoint>& points,
                                  const std::function<double(const ProfilePoint&)>& simulate);

}  // namespace dstack::sim
