#pragma once
// An experiment: which models are served on which device, with which request workloads and SLOs, under
// which scheduling policies, for how long. Read from YAML; every mistake is reported with the file, the
// line, the key and the valid choices, e.g.
//   mixed.yaml:7: models[1].workload.arrival: unknown 'possion'; choose poisson, gamma, constant, trace, azure
//
// The file (runtime/serve/README.md has the full reference):
//
//   name: mixed4                 # optional, default the file's stem
//   device: h100_sxm             # a device description name
//   backend: sim                 # optional: sim (default) | gpu
//   precision: fp32              # optional: fp32 (default) | fp16 | bf16
//   duration_s: 30
//   warmup_s: 2                  # optional, default 0; requests arriving earlier are not measured
//   seed: 1                      # optional, default 1
//   policies: [dstack, temporal, triton]
//   models:
//     - name: resnet50           # label, unique
//       model: resnet50          # zoo name, or a path ending in .onnx (relative to the config file)
//       slo_ms: 50
//       priority: high           # optional: high | normal (default)
//       max_queue: 1024          # optional bound on the queue (default 4096)
//       workload:
//         arrival: poisson       # poisson | gamma | constant | trace | azure
//         rate_rps: 200          # poisson, gamma, constant
//         cv: 2                  # gamma only
//         file: traces/x.csv     # trace, azure: relative to the config file
//         function: <hash>       # azure: HashFunction ...
//         function_row: 0        # azure: ... or the 0-based data row instead
//         rate_scale: 1.0        # trace, azure
//         cv_scale: 1.0          # azure
//         start_minute: 0        # azure
//         minutes: 10            # azure, optional: default to the end of the day
//         changes:               # poisson, gamma, constant; optional, in time order
//           - {at_s: 10, rate_rps: 400}              # step
//           - {from_s: 20, to_s: 25, rate_rps: 100}  # ramp
//   policy_options:              # optional: per policy name, free-form, handed to the policy as JSON
//     triton: {max_queue_delay_ms: 2}
//   gpu:                         # optional, for backend gpu
//     input_copy: true           # copy each batch's inputs from pinned host memory (default true)
//     max_batch: 64              # arenas and CUDA graphs prepared for batches 1..max_batch (default 64)
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/precision.h"
#include "runtime/serve/arrivals.h"

namespace dstack::serve {

// What the config may name. The caller passes the real registries (zoo, policies, devices), so this
// layer depends on none of them.
struct ConfigChoices {
  std::vector<std::string> models;
  std::vector<std::string> policies;
  std::vector<std::string> devices;
  // Checks policy_options[policy] (sched::check_policy_options where the policies are linked):
  // throws std::invalid_argument naming the bad key. Unset: the options are kept unchecked.
  std::function<void(const std::string& policy, const nlohmann::json& options)> check_policy_options;
};

class ConfigError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

enum class Priority { Normal, High };
enum class ServeBackend { Sim, Gpu };

const char* priority_name(Priority p);        // "normal" | "high"
const char* serve_backend_name(ServeBackend b);  // "sim" | "gpu"

struct ModelConfig {
  std::string name;                     // the label results use; unique in the experiment
  std::string model;                    // zoo name, or the .onnx path resolved against the config's folder
  double slo_ms = 0;
  Priority priority = Priority::Normal;
  std::size_t max_queue = 4096;
  ArrivalSpec workload;                 // trace and azure files resolved against the config's folder
};

// How a GPU run is set up (ignored by the simulator).
struct GpuServeConfig {
  bool input_copy = true;   // each run copies its batch's inputs from pinned host memory, as a server does
  int64_t max_batch = 64;   // arenas and graphs for batches 1..max_batch; a policy asking more is an error
};

struct ExperimentConfig {
  std::filesystem::path file;           // where it was read from
  std::string name;
  std::string device;
  ServeBackend backend = ServeBackend::Sim;
  kernels::Precision precision = kernels::Precision::F32;
  double duration_s = 0;
  double warmup_s = 0;
  uint64_t seed = 1;
  double load_factor = 1;               // scale_load() applied to the file's rates (1: as written)
  std::vector<std::string> policies;
  std::vector<ModelConfig> models;
  nlohmann::json policy_options = nlohmann::json::object();  // policy name -> its options
  GpuServeConfig gpu;
};

// Throws ConfigError (file, line, key, valid choices) for a file that cannot be read, is not YAML, or
// has unknown keys, wrong types, missing required keys, unknown models, policies, devices or arrival
// kinds, non-positive rates, SLOs or durations, duplicate model names or missing trace files.
ExperimentConfig load_experiment_config(const std::filesystem::path& file, const ConfigChoices& choices);

// The same from text already read; `file` names it in errors and anchors relative paths.
ExperimentConfig parse_experiment_config(const std::string& yaml, const std::filesystem::path& file,
                                         const ConfigChoices& choices);

// Multiplies every model's offered load by `factor` (> 0 and finite, else std::invalid_argument):
// rates and rate changes of poisson, gamma and constant workloads, rate_scale of trace and azure
// replays. For load sweeps: the same workload shape at other intensities.
void scale_load(ExperimentConfig& config, double factor);

// Everything in the config, paths resolved: the provenance copy a run stores beside its results.
nlohmann::json to_json(const ExperimentConfig& config);

}  // namespace dstack::serve
