#include "runtime/serve/capacity.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace dstack::serve {
namespace {

bool meets(const ModelMetrics& m, double fraction) {
  return !m.slo_attainment || *m.slo_attainment >= fraction;
}

// A bracket whose width is the resolution up to rounding (0.1 - 0.05 is not exactly 0.05 in binary)
// is narrow enough: without the slack, one more probe would be spent on a bracket already as
// narrow as asked.
bool narrow_enough(double pass, double fail, double resolution) {
  return fail - pass <= resolution * (1 + 1e-9);
}

}  // namespace

void validate(const CapacitySearch& s) {
  const CapacityCriteria& c = s.criteria;
  if (!(c.target > 0 && c.target <= 1))
    throw std::invalid_argument(fmt::format(
        "--target {}: the fraction of all requests that must meet their SLOs is in (0, 1], e.g. 0.99", c.target));
  if (!(c.per_model > 0 && c.per_model <= 1))
    throw std::invalid_argument(fmt::format(
        "--per-model {}: the fraction of each model's requests that must meet its SLO is in (0, 1], e.g. 0.97",
        c.per_model));
  if (!(s.max_load > 0) || !std::isfinite(s.max_load))
    throw std::invalid_argument(
        fmt::format("--max-load {}: the largest load factor probed must be positive, e.g. 8", s.max_load));
  if (!(s.resolution > 0) || !(s.resolution < s.max_load))
    throw std::invalid_argument(fmt::format(
        "--resolution {}: the search's precision in load factor must be positive and below --max-load ({}), e.g. 0.05",
        s.resolution, s.max_load));
}

ProbeResult evaluate_probe(const ServeMetrics& m, double load, const CapacityCriteria& c) {
  ProbeResult r;
  r.load = load;
  r.slo_attainment = m.all.slo_attainment;
  r.goodput_rps = m.all.goodput_rps;
  bool every_model = true;
  for (const ModelMetrics& model : m.models) {
    every_model = every_model && meets(model, c.per_model);
    if (model.slo_attainment && (!r.worst_model_attainment || *model.slo_attainment < *r.worst_model_attainment)) {
      r.worst_model = model.name;
      r.worst_model_attainment = model.slo_attainment;
    }
  }
  r.pass = m.all.slo_attainment && *m.all.slo_attainment >= c.target && every_model;
  return r;
}

const ProbeResult* CapacityResult::at_capacity() const {
  if (!capacity) return nullptr;
  for (const ProbeResult& p : probes)
    if (p.pass && p.load == *capacity) return &p;
  return nullptr;
}

const ProbeResult* CapacityResult::best_probe() const {
  const ProbeResult* best = nullptr;
  for (const ProbeResult& p : probes) {
    if (!p.slo_attainment) continue;
    if (!best || *p.slo_attainment > *best->slo_attainment ||
        (*p.slo_attainment == *best->slo_attainment && p.load > best->load))
      best = &p;
  }
  return best;
}

double CapacityResult::smallest_load() const {
  double smallest = 0;
  for (const ProbeResult& p : probes) smallest = smallest == 0 ? p.load : std::min(smallest, p.load);
  return smallest;
}

CapacityResult find_capacity(const std::function<ProbeResult(double)>& probe, const CapacitySearch& s) {
  validate(s);
  CapacityResult out;
  auto run = [&](double load) {
    ProbeResult r = probe(load);
    r.load = load;
    out.probes.push_back(r);
    return r.pass;
  };

  double load = std::min(1.0, s.max_load);
  std::optional<double> pass, fail;
  if (run(load)) {
    pass = load;
    while (*pass < s.max_load) {
      load = std::min(2 * *pass, s.max_load);
      if (!run(load)) {
        fail = load;
        break;
      }
      pass = load;
    }
    out.at_max_load = !fail;
  } else {
    fail = load;
    while (*fail > s.resolution) {
      load = std::max(*fail / 2, s.resolution);
      if (run(load)) {
        pass = load;
        break;
      }
      fail = load;
    }
  }
  if (pass && fail) {
    while (!narrow_enough(*pass, *fail, s.resolution)) {
      load = (*pass + *fail) / 2;
      if (run(load))
        pass = load;
      else
        fail = load;
    }
  }

  for (const ProbeResult& p : out.probes)
    if (p.pass && (!out.capacity || p.load > *out.capacity)) out.capacity = p.load;
  return out;
}

std::string describe_search(const CapacitySearch& s) {
  return fmt::format(
      "search: probe x{} first, then double the load while it passes (up to x{}) or halve it while it fails (down "
      "to x{}), then bisect [pass, fail] until fail - pass <= {}; capacity = the largest passing load probed; "
      "pass = at least {:g}% of all requests and {:g}% of each model's within their SLOs",
      std::min(1.0, s.max_load), s.max_load, s.resolution, s.resolution, 100 * s.criteria.target,
      100 * s.criteria.per_model);
}

}  // namespace dstack::serve
