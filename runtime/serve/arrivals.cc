#include "runtime/serve/arrivals.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <numbers>
#include <stdexcept>

#include "runtime/serve/azure_trace.h"

namespace dstack::serve {

double PortableRandom::uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

double PortableRandom::uniform_positive() { return static_cast<double>((engine_() >> 11) + 1) * 0x1.0p-53; }

double PortableRandom::normal() {
  if (spare_normal_) {
    const double z = *spare_normal_;
    spare_normal_.reset();
    return z;
  }
  const double radius = std::sqrt(-2.0 * std::log(uniform_positive()));
  const double angle = 2.0 * std::numbers::pi * uniform();
  spare_normal_ = radius * std::sin(angle);
  return radius * std::cos(angle);
}

double PortableRandom::exponential() { return -std::log(uniform_positive()); }

double PortableRandom::gamma(double shape) {
  if (shape == 1) return exponential();
  // Marsaglia-Tsang needs shape >= 1; Gamma(k) = Gamma(k + 1) * U^(1/k) lifts smaller shapes.
  if (shape < 1) return gamma(shape + 1) * std::pow(uniform_positive(), 1.0 / shape);
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x = 0;
    double v = 0;
    do {
      x = normal();
      v = 1.0 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = uniform_positive();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t model_seed(uint64_t experiment_seed, std::string_view model_name) {
  uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a: fixed by definition, unlike std::hash
  for (unsigned char c : model_name) hash = (hash ^ c) * 0x100000001b3ULL;
  return splitmix64(experiment_seed ^ hash);
}

const std::vector<std::string>& arrival_kind_names() {
  static const std::vector<std::string> names = {"poisson", "gamma", "constant", "trace", "azure"};
  return names;
}

const char* arrival_kind_name(ArrivalKind kind) {
  return arrival_kind_names()[static_cast<std::size_t>(kind)].c_str();
}

ArrivalKind parse_arrival_kind(std::string_view name) {
  const auto& names = arrival_kind_names();
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end())
    throw std::invalid_argument(fmt::format("unknown arrival kind '{}'; choose {}", name, fmt::join(names, ", ")));
  return static_cast<ArrivalKind>(it - names.begin());
}

namespace {

bool positive_finite(double x) { return std::isfinite(x) && x > 0; }

bool has_rate_function(ArrivalKind kind) {
  return kind == ArrivalKind::Poisson || kind == ArrivalKind::Gamma || kind == ArrivalKind::Constant;
}

// The rate as a piecewise-linear function of time (a step is a zero-length piece), its integral
// Lambda(t) and the inverse of that integral: what time rescaling needs.
class RateCurve {
 public:
  explicit RateCurve(const ArrivalSpec& spec) {
    knots_.push_back({0, spec.rate_rps});
    for (const auto& c : spec.changes) {
      knots_.push_back({c.from_s, knots_.back().rate});
      knots_.push_back({c.to_s, c.rate_rps});
    }
    cumulative_.push_back(0);
    for (std::size_t i = 1; i < knots_.size(); ++i)
      cumulative_.push_back(cumulative_.back() + 0.5 * (knots_[i].t - knots_[i - 1].t) *
                                                     (knots_[i].rate + knots_[i - 1].rate));
  }

  double rate(double t) const {
    const std::size_t i = piece_at(t);
    if (i + 1 == knots_.size()) return knots_[i].rate;
    const auto& [t0, r0] = knots_[i];
    const auto& [t1, r1] = knots_[i + 1];
    return r0 + (r1 - r0) * (t - t0) / (t1 - t0);
  }

  double integral(double t) const {
    const std::size_t i = piece_at(t);
    return cumulative_[i] + area_within(i, t - knots_[i].t);
  }

  // The t with integral(t) == u: the last knot whose cumulative area is <= u (past any step's
  // zero-length piece, which adds no area), then the quadratic of the piece after it.
  double inverse(double u) const {
    const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u);
    const std::size_t i = static_cast<std::size_t>(it - cumulative_.begin()) - 1;
    const double a = u - cumulative_[i];
    const double r0 = knots_[i].rate;
    const double slope = i + 1 == knots_.size() ? 0 : (knots_[i + 1].rate - r0) / (knots_[i + 1].t - knots_[i].t);
    // r0 x + slope x^2 / 2 = a, in the form that stays accurate as slope -> 0 (rates are positive).
    return knots_[i].t + 2 * a / (r0 + std::sqrt(std::max(0.0, r0 * r0 + 2 * slope * a)));
  }

 private:
  struct Knot {
    double t;
    double rate;
  };

  std::size_t piece_at(double t) const {
    const auto it = std::upper_bound(knots_.begin(), knots_.end(), t, [](double x, const Knot& k) { return x < k.t; });
    return static_cast<std::size_t>(it - knots_.begin()) - 1;
  }

  double area_within(std::size_t i, double dt) const {
    if (i + 1 == knots_.size()) return knots_[i].rate * dt;
    const double slope = (knots_[i + 1].rate - knots_[i].rate) / (knots_[i + 1].t - knots_[i].t);
    return knots_[i].rate * dt + 0.5 * slope * dt * dt;
  }

  std::vector<Knot> knots_;
  std::vector<double> cumulative_;  // integral up to each knot
};

std::vector<double> rescaled_renewal(const ArrivalSpec& spec, double duration_s, PortableRandom& random) {
  const RateCurve curve(spec);
  const double horizon = curve.integral(duration_s);
  const double shape = 1.0 / (spec.cv * spec.cv);
  std::vector<double> times;
  // A constant process starts at a seeded phase, so two constant-rate models are not in lockstep.
  double u = spec.kind == ArrivalKind::Constant ? random.uniform() : 0;
  for (;;) {
    if (spec.kind == ArrivalKind::Poisson) u += random.exponential();
    else if (spec.kind == ArrivalKind::Gamma) u += random.gamma(shape) / shape;
    else if (!times.empty()) u += 1;
    if (!std::isfinite(u)) throw std::logic_error(fmt::format("{} arrivals: a gap that is not finite", arrival_kind_name(spec.kind)));
    if (u >= horizon) break;
    // Clamped: rounding in the inverse must not move an arrival out of [0, duration).
    times.push_back(std::min(curve.inverse(u), std::nextafter(duration_s, 0.0)));
  }
  return times;
}

std::vector<std::string> cells_of(const std::string& line) {
  std::vector<std::string> cells(1);
  for (char c : line) {
    if (c == ',') cells.emplace_back();
    else if (c != '\r' && c != ' ' && c != '\t') cells.back() += c;
  }
  return cells;
}

}  // namespace

void validate_arrival_spec(const ArrivalSpec& spec) {
  const char* kind = arrival_kind_name(spec.kind);
  auto fail = [&](const std::string& what) { throw std::invalid_argument(fmt::format("{} arrivals: {}", kind, what)); };
  if (has_rate_function(spec.kind)) {
    if (!positive_finite(spec.rate_rps)) fail(fmt::format("rate_rps must be positive, not {}", spec.rate_rps));
    if (spec.kind == ArrivalKind::Gamma && !(positive_finite(spec.cv) && spec.cv <= kMaxCv))
      fail(fmt::format("cv must be in (0, {}] (1 is Poisson), not {}", kMaxCv, spec.cv));
    double previous_end = 0;
    for (std::size_t i = 0; i < spec.changes.size(); ++i) {
      const auto& c = spec.changes[i];
      if (!std::isfinite(c.from_s) || c.from_s < previous_end)
        fail(fmt::format("changes[{}] starts at {} s, before {} s (the end of the change before it, or 0); "
                         "list changes in time order without overlaps", i, c.from_s, previous_end));
      if (!std::isfinite(c.to_s) || c.to_s < c.from_s)
        fail(fmt::format("changes[{}] ends at {} s, before it starts at {} s", i, c.to_s, c.from_s));
      if (!positive_finite(c.rate_rps)) fail(fmt::format("changes[{}].rate_rps must be positive, not {}", i, c.rate_rps));
      previous_end = c.to_s;
    }
    return;
  }
  if (!spec.changes.empty())
    fail("rate changes apply to poisson, gamma and constant arrivals; a trace's rate comes from its file "
         "(scale it with rate_scale)");
  if (spec.file.empty()) fail("no file given");
  if (!positive_finite(spec.rate_scale)) fail(fmt::format("rate_scale must be positive, not {}", spec.rate_scale));
  if (spec.kind == ArrivalKind::Trace) return;
  if (!(positive_finite(spec.cv_scale) && spec.cv_scale <= kMaxCv))
    fail(fmt::format("cv_scale must be in (0, {}], not {}", kMaxCv, spec.cv_scale));
  const auto& a = spec.azure;
  if (a.start_minute < 0 || a.start_minute >= kAzureMinutesPerDay)
    fail(fmt::format("start_minute must be in 0..{}, not {}", kAzureMinutesPerDay - 1, a.start_minute));
  if (a.minutes && (*a.minutes <= 0 || a.start_minute + *a.minutes > kAzureMinutesPerDay))
    fail(fmt::format("minutes must be in 1..{} (the day has {} minutes from start_minute {}), not {}",
                     kAzureMinutesPerDay - a.start_minute, kAzureMinutesPerDay, a.start_minute, *a.minutes));
}

double rate_at(const ArrivalSpec& spec, double t_s) {
  if (!has_rate_function(spec.kind))
    throw std::invalid_argument(fmt::format("{} arrivals have no rate function", arrival_kind_name(spec.kind)));
  return RateCurve(spec).rate(std::max(0.0, t_s));
}

double expected_arrivals(const ArrivalSpec& spec, double t0_s, double t1_s) {
  if (!has_rate_function(spec.kind))
    throw std::invalid_argument(fmt::format("{} arrivals have no rate function; count the generated arrivals",
                                            arrival_kind_name(spec.kind)));
  const RateCurve curve(spec);
  return curve.integral(std::max(0.0, t1_s)) - curve.integral(std::max(0.0, t0_s));
}

std::vector<double> generate_arrivals(const ArrivalSpec& spec, double duration_s, uint64_t seed) {
  if (!positive_finite(duration_s))
    throw std::invalid_argument(fmt::format("arrivals: duration must be positive, not {} s", duration_s));
  validate_arrival_spec(spec);
  PortableRandom random(seed);
  if (has_rate_function(spec.kind)) {
    // An absurd rate or duration would allocate until the machine gives up: refuse it by its mean.
    const double expected = expected_arrivals(spec, 0, duration_s);
    if (!(expected <= kMaxArrivalsPerModel))
      throw std::invalid_argument(fmt::format(
          "arrivals: {:.3g} requests expected in {:g} s (the rate's integral) exceed the limit of {:.0e} per model; "
          "shorten the duration or lower the rate",
          expected, duration_s, kMaxArrivalsPerModel));
    return rescaled_renewal(spec, duration_s, random);
  }
  if (spec.kind == ArrivalKind::Azure) {
    const AzureFunctionCounts counts = read_azure_function(spec.file, spec.azure);
    try {
      return azure_arrivals(counts, spec, duration_s, random);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("azure trace {}: {}", spec.file.string(), e.what()));
    }
  }
  std::vector<double> times;
  for (double t : read_arrival_trace(spec.file))
    if (t / spec.rate_scale < duration_s) times.push_back(t / spec.rate_scale);
  return times;
}

std::vector<double> read_arrival_trace(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::invalid_argument("arrival trace " + file.string() + ": cannot be read (missing?)");
  std::vector<double> times;
  std::optional<std::size_t> column;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#' || line == "\r") continue;
    const auto cells = cells_of(line);
    const std::string where = fmt::format("arrival trace {}:{}", file.string(), line_no);
    if (!column) {
      const auto it = std::find(cells.begin(), cells.end(), "time_s");
      if (it == cells.end()) throw std::invalid_argument(where + ": no column 'time_s' in the header");
      column = static_cast<std::size_t>(it - cells.begin());
      continue;
    }
    const std::string cell = *column < cells.size() ? cells[*column] : "";
    double t = 0;
    const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), t);
    if (cell.empty() || ec != std::errc() || end != cell.data() + cell.size() || !std::isfinite(t) || t < 0)
      throw std::invalid_argument(fmt::format("{}: column 'time_s' ({}) must be a time >= 0 in seconds, not '{}'",
                                              where, *column + 1, cell));
    times.push_back(t);
  }
  if (!column) throw std::invalid_argument("arrival trace " + file.string() + ": empty (no header with 'time_s')");
  std::sort(times.begin(), times.end());
  return times;
}

}  // namespace dstack::serve
