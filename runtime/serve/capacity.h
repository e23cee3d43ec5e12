#pragma once
// Capacity at SLO: the largest load factor at which a policy still meets its SLOs, found with as few
// served runs as the rule below allows (MLPerf's server scenario, Triton model_analyzer's
// latency-constrained search). The search knows nothing of serving: it calls a probe for a load
// factor and reads whether it passed, so it is tested on plain functions; `dstack capacity` probes
// by serving the experiment's arrivals scaled by scale_load(). CPU only.
//
// The rule, deterministic given the probe's answers:
//   1. probe x1 (or max_load when that is below 1);
//   2. bracket: while it passes, double (2, 4, ...; the last step clamped to max_load); while it
//      fails, halve (0.5, 0.25, ...; the last step clamped to resolution);
//   3. bisect the bracket [pass, fail] until fail - pass <= resolution.
// Capacity = the largest passing load probed; none when every probe failed. The search assumes
// attainment falls as the load rises: every load it probes lies inside the current bracket, so a
// passing load above a failing one is never looked for. Every probe is recorded, for plotting the
// attainment against the load and seeing where that assumption is doubtful.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/serve/metrics.h"

namespace dstack::serve {

// What "meets its SLOs" means: at least `target` of all requests served within their SLO, and at
// least `per_model` of each model's.
struct CapacityCriteria {
  double target = 0.99;
  double per_model = 0.97;
};

struct CapacitySearch {
  CapacityCriteria criteria;
  double resolution = 0.05;  // in load factor, absolute: the bracket's width when bisection stops
  double max_load = 8;
};

// Throws std::invalid_argument naming the option and the fix for a target or per-model outside
// (0, 1], max_load <= 0, or a resolution <= 0 or >= max_load.
void validate(const CapacitySearch& search);

struct ProbeResult {
  double load = 0;
  bool pass = false;
  std::optional<double> slo_attainment;  // the whole mix; empty when no request arrived in the window
  std::string worst_model;               // the lowest attainment; empty when no model had requests
  std::optional<double> worst_model_attainment;
  double goodput_rps = 0;
};

// One run's metrics against the criteria. A model with no request in the window meets them (it had
// nothing to miss), but a run in whose window no request arrived at all does not pass: it measured
// nothing, and a load too light to offer one request says nothing about the SLOs.
ProbeResult evaluate_probe(const ServeMetrics& metrics, double load, const CapacityCriteria& criteria);

struct CapacityResult {
  std::vector<ProbeResult> probes;  // in the order probed
  std::optional<double> capacity;   // the largest passing load probed
  bool at_max_load = false;         // max_load passed: the capacity is at least that, not found

  const ProbeResult* at_capacity() const;  // the probe at the capacity; null when none passed
  const ProbeResult* best_probe() const;   // the highest whole-mix attainment (ties: the larger load)
  double smallest_load() const;            // of the probes; 0 when there are none
};

// The rule above. `probe(load)` serves (or computes) one load and says whether it passed; its `load`
// field is overwritten with the load asked for. Validates `search` first; whatever `probe` throws
// propagates.
CapacityResult find_capacity(const std::function<ProbeResult(double load)>& probe, const CapacitySearch& search);

// The rule in one line, with the search's numbers, for the outputs.
std::string describe_search(const CapacitySearch& search);

}  // namespace dstack::serve
