#pragma once
// Request arrival processes, one per model: Poisson, bursty Gamma, constant rate, replay of a trace
// of timestamps, and replay of the Azure Functions 2019 per-minute counts (azure_trace.h).
//
// Reproducibility is the point: every draw comes from std::mt19937_64 (whose output the standard
// fixes) through the transforms below, never through std::*_distribution, whose algorithms differ
// between standard libraries. Same spec and seed => the same arrival times on every machine.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace dstack::serve {

// The portable draws every arrival process is built from.
class PortableRandom {
 public:
  explicit PortableRandom(uint64_t seed) : engine_(seed) {}
  double uniform();            // [0, 1), 53 random bits
  double uniform_positive();   // (0, 1]: safe under log
  double normal();             // standard normal, Box-Muller
  double exponential();        // mean 1, inverse CDF
  double gamma(double shape);  // scale 1, Marsaglia-Tsang (boosted by U^(1/shape) below shape 1)

 private:
  std::mt19937_64 engine_;
  std::optional<double> spare_normal_;  // Box-Muller yields two normals per pair of uniforms
};

uint64_t splitmix64(uint64_t x);

// A model's own seed from the experiment's: splitmix64(seed ^ FNV-1a(name)), so every model draws an
// independent stream and adding a model does not change the others' arrivals.
uint64_t model_seed(uint64_t experiment_seed, std::string_view model_name);

enum class ArrivalKind { Poisson, Gamma, Constant, Trace, Azure };

// "poisson" | "gamma" | "constant" | "trace" | "azure", the spelling configs use.
const char* arrival_kind_name(ArrivalKind kind);
const std::vector<std::string>& arrival_kind_names();
// Throws std::invalid_argument "unknown arrival kind 'x'; choose poisson, gamma, constant, trace, azure".
ArrivalKind parse_arrival_kind(std::string_view name);

// From from_s to to_s the rate goes linearly from whatever it was to rate_rps, and stays there. A step
// is a change with from_s == to_s.
struct RateChange {
  double from_s = 0;
  double to_s = 0;
  double rate_rps = 0;
};

// Which function of an Azure Functions 2019 file to replay, and which minutes (see azure_trace.h).
struct AzureReplay {
  std::string function;                // HashFunction; empty: take the data row `row`
  std::size_t row = 0;                 // 0-based, counting data rows only
  int start_minute = 0;                // 0..1439; experiment time 0 is the start of this minute
  std::optional<int> minutes;          // how many minutes to replay; default to the end of the day
};

struct ArrivalSpec {
  ArrivalKind kind = ArrivalKind::Poisson;
  double rate_rps = 0;                 // poisson, gamma, constant: the rate before any change
  double cv = 1;                       // gamma: coefficient of variation of the inter-arrival times
  std::vector<RateChange> changes;     // poisson, gamma, constant; sorted, non-overlapping
  std::filesystem::path file;          // trace (CSV, column time_s), azure
  double rate_scale = 1;               // trace: time runs rate_scale times faster; azure: counts x it
  double cv_scale = 1;                 // azure: within-minute cv (1: uniform spread within the minute)
  AzureReplay azure;
};

// Throws std::invalid_argument naming the field when the spec cannot be generated: a rate, cv or scale
// not positive and finite, changes out of order or overlapping, a change on a trace or azure kind.
void validate_arrival_spec(const ArrivalSpec& spec);

// The rate at time t of a poisson, gamma or constant spec, with its changes applied. This and
// expected_arrivals throw std::invalid_argument for trace and azure specs, which have no rate function.
double rate_at(const ArrivalSpec& spec, double t_s);

// The expected number of arrivals in [t0, t1) (the integral of the rate): offered load for the metrics.
double expected_arrivals(const ArrivalSpec& spec, double t0_s, double t1_s);

// The burstiest Gamma arrivals (cv, and an Azure replay's cv_scale) drawn: above it the gaps' shape
// 1/cv^2 is so small that the draws degenerate (all arrivals at a handful of instants).
constexpr double kMaxCv = 100;

// The most arrivals a rate-driven spec may expect over an experiment (generate_arrivals refuses more):
// room for the overload soak (the demo at 100x its load for 30 s: 1.44e7 for its busiest model), at
// about 80 bytes per request held while serving.
constexpr double kMaxArrivalsPerModel = 2e7;

// Sorted arrival times in [0, duration_s). Changing rates use time rescaling: a unit-rate renewal
// process (exponential, Gamma(1/cv^2) or constant gaps, the constant one with a seeded phase) is mapped
// through the inverse of the integrated rate, so Gamma burstiness survives every rate change.
std::vector<double> generate_arrivals(const ArrivalSpec& spec, double duration_s, uint64_t seed);

// A trace of arrival times: CSV with a `time_s` column (other columns ignored), '#' comment lines.
// Returns the times sorted. Throws std::invalid_argument naming the file, line and column.
std::vector<double> read_arrival_trace(const std::filesystem::path& file);

}  // namespace dstack::serve
