#include "runtime/sim/profile.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <ostream>
#include <stdexcept>
#include <type_traits>

#include "runtime/core/median.h"

namespace dstack::sim {
namespace {

std::vector<std::string> cells_of(const std::string& line) {
  std::vector<std::string> cells(1);
  for (char c : line) {
    if (c == ',') cells.emplace_back();
    else if (c != '\r' && c != ' ' && c != '\t') cells.back() += c;
  }
  return cells;
}

template <typename T>
T parse_number(const std::string& text, const std::string& where, const std::string& column) {
  T v{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  bool finite = true;
  if constexpr (std::is_floating_point_v<T>) finite = std::isfinite(v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !(v > 0) || !finite)
    throw std::invalid_argument(
        fmt::format("{}: column '{}' must be a positive finite number, not '{}'", where, column, text));
  return v;
}

}  // namespace

std::vector<ProfilePoint> read_profile_csv(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::invalid_argument("profile " + file.string() + ": cannot be read (missing?)");
  std::map<std::string, int> col;
  std::size_t columns = 0;  // the header's cells (a row must have as many)
  std::vector<ProfilePoint> points;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    const auto cells = cells_of(line);
    const std::string where = fmt::format("profile {}:{}", file.string(), line_no);
    if (col.empty()) {
      for (std::size_t i = 0; i < cells.size(); ++i)
        if (!col.emplace(cells[i], static_cast<int>(i)).second)
          throw std::invalid_argument(fmt::format("{}: column '{}' appears twice in the header", where, cells[i]));
      columns = cells.size();
      for (const char* need : {"model", "batch", "sms", "latency_ms"})
        if (!col.count(need))
          throw std::invalid_argument(fmt::format("{}: no column '{}'; the header needs model,batch,sms,latency_ms "
                                                  "(precision optional)", where, need));
      continue;
    }
    if (cells.size() != columns)
      throw std::invalid_argument(fmt::format("{}: {} cells, the header has {}", where, cells.size(), columns));
    ProfilePoint p;
    p.model = cells[col["model"]];
    if (p.model.empty()) throw std::invalid_argument(where + ": empty model");
    p.batch = parse_number<int64_t>(cells[col["batch"]], where, "batch");
    p.sms = parse_number<int>(cells[col["sms"]], where, "sms");
    p.latency_ms = parse_number<double>(cells[col["latency_ms"]], where, "latency_ms");
    if (col.count("precision")) {
      try {
        p.precision = kernels::parse_precision(cells[col["precision"]]);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(where + ": " + e.what());
      }
    }
    points.push_back(p);
  }
  if (points.empty()) throw std::invalid_argument("profile " + file.string() + ": no points");
  return points;
}

void write_profile_csv(std::ostream& out, const std::vector<ProfilePoint>& points,
                       const std::vector<std::string>& comments) {
  for (const auto& c : comments) out << "# " << c << "\n";
  out << "model,batch,sms,precision,latency_ms\n";
  for (const auto& p : points)
    out << fmt::format("{},{},{},{},{:.6f}\n", p.model, p.batch, p.sms, kernels::precision_name(p.precision),
                       p.latency_ms);
}

ValidationReport validate_profile(const std::vector<ProfilePoint>& points,
                                  const std::function<double(const ProfilePoint&)>& simulate) {
  ValidationReport r;
  std::vector<double> errors;
  for (const auto& p : points) {
    ValidationRow row;
    row.reference = p;
    row.simulated_ms = simulate(p);
    row.relative_error = std::abs(row.simulated_ms - p.latency_ms) / p.latency_ms;
    errors.push_back(row.relative_error);
    r.rows.push_back(row);
  }
  if (errors.empty()) return r;
  r.median_relative_error = median(errors);
  r.max_relative_error = *std::max_element(errors.begin(), errors.end());
  double sum = 0;
  for (double e : errors) sum += e;
  r.mean_relative_error = sum / static_cast<double>(errors.size());
  return r;
}

}  // namespace dstack::sim
