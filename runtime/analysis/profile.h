#pragma once
// Latency profiles: the whole model and every kernel by batch size and partition size, measured on
// a GPU (runtime/backend/cuda/gpu_profiler.h) or simulated (simulated_profile below), written as CSV
// with a JSON sidecar of provenance. The model CSV has the columns sim::read_profile_csv reads, so
// one file feeds `dstack knee --profile`, `dstack sim validate --profile` and the plots. CPU only.
//
// Files for `-o P.csv`: P.csv (model,batch,sms,precision,latency_ms,min_ms,max_ms,repeats),
// P.kernels.csv (model,batch,sms,precision,index,kernel,time_us: one row per plan launch, all of a
// node's CUDA launches together) and P.json (provenance: backend measured|simulated, device, driver
// or device file, commit, precision, date, and how it was measured).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernels/precision.h"
#include "models/graph.h"
#include "runtime/backend/backend.h"
#include "runtime/sim/cost_model.h"
#include "runtime/sim/device_spec.h"
#include "runtime/sim/engine.h"
#include "runtime/sim/profile.h"

namespace dstack::analysis {

struct ModelProfileRow {
  sim::ProfilePoint point;  // model, batch, sms, precision, latency_ms (the median)
  double min_ms = 0;
  double max_ms = 0;
  int repeats = 1;
};

struct KernelProfileRow {
  std::string model;
  int64_t batch = 1;
  int sms = 0;
  kernels::Precision precision = kernels::Precision::F32;
  int index = 0;        // index into the plan's launches (models::Plan::kernels)
  std::string kernel;   // the node's first CUDA kernel, e.g. conv2d_implicit_gemm<float>
  double time_us = 0;   // median
};

struct Profile {
  std::vector<ModelProfileRow> models;
  std::vector<KernelProfileRow> kernels;
  nlohmann::json provenance = nlohmann::json::object();
};

// Called after each (batch, SMs) point: points done, points in all.
using ProgressFn = std::function<void(std::size_t done, std::size_t total)>;

// The sidecar and kernel file names of a profile CSV: P.csv -> P.json, P.kernels.csv.
std::filesystem::path profile_sidecar(const std::filesystem::path& csv);
std::filesystem::path profile_kernels_file(const std::filesystem::path& csv);

// Writes the three files (creating the folder). Throws std::runtime_error naming a file it cannot write.
void write_profile(const Profile& profile, const std::filesystem::path& csv);

// The model rows and the provenance (when the sidecar exists) back. Throws std::invalid_argument
// naming the file and line for a malformed CSV (sim::read_profile_csv's checks).
Profile read_profile(const std::filesystem::path& csv);

// "2026-11-25T21:40:00Z": now, or SOURCE_DATE_EPOCH when set (reproducible outputs).
std::string provenance_date();

struct SimProfileOptions {
  std::vector<int64_t> batches;
  std::vector<int> sms;  // resolved partition sizes
  kernels::Precision precision = kernels::Precision::F32;
  sim::SimMode mode = sim::SimMode::fast;
  DispatchMode dispatch = DispatchMode::graph;
};

// Every (batch, SMs) point of `graph` on the simulated `device`: one simulated run each (the
// simulator is deterministic, so repeats = 1 and min = max = median). Provenance says simulated.
Profile simulated_profile(const models::Graph& graph, const std::string& model, const SimProfileOptions& options,
                          const sim::DeviceSpec& device, const sim::CostModel& cost, const std::string& commit,
                          const ProgressFn& progress = {});

// The latency curve (SMs ascending, seconds) of one (model, batch, precision) in a profile's
// points; empty when the profile has none.
std::vector<std::pair<int, double>> profiled_curve(const std::vector<sim::ProfilePoint>& points,
                                                   const std::string& model, int64_t batch,
                                                   kernels::Precision precision);

}  // namespace dstack::analysis
