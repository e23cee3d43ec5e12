#include "runtime/serve/azure_trace.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <stdexcept>

namespace dstack::serve {
namespace {

constexpr int kLeadingColumns = 4;  // HashOwner, HashApp, HashFunction, Trigger
const char* const kLeadingNames[kLeadingColumns] = {"HashOwner", "HashApp", "HashFunction", "Trigger"};

std::vector<std::string> cells_of(const std::string& line) {
  std::vector<std::string> cells(1);
  for (char c : line) {
    if (c == ',') cells.emplace_back();
    else if (c != '\r') cells.back() += c;
  }
  return cells;
}

std::string column_name(int index) {
  return index < kLeadingColumns ? kLeadingNames[index] : std::to_string(index - kLeadingColumns + 1);
}

void check_header(const std::vector<std::string>& cells, const std::string& where) {
  const int expected = kLeadingColumns + kAzureMinutesPerDay;
  if (static_cast<int>(cells.size()) != expected)
    throw std::invalid_argument(fmt::format("{}: the header has {} columns; the Azure Functions 2019 format has {} "
                                            "(HashOwner,HashApp,HashFunction,Trigger,1,...,1440)",
                                            where, cells.size(), expected));
  for (int i = 0; i < expected; ++i)
    if (cells[static_cast<std::size_t>(i)] != column_name(i))
      throw std::invalid_argument(fmt::format("{}: header column {} is '{}', expected '{}'", where, i + 1,
                                              cells[static_cast<std::size_t>(i)], column_name(i)));
}

AzureFunctionCounts parse_row(const std::vector<std::string>& cells, const std::string& where) {
  const std::size_t expected = kLeadingColumns + kAzureMinutesPerDay;
  if (cells.size() != expected)
    throw std::invalid_argument(fmt::format("{}: {} cells, the header has {}", where, cells.size(), expected));
  AzureFunctionCounts row{cells[0], cells[1], cells[2], cells[3], {}};
  row.per_minute.reserve(kAzureMinutesPerDay);
  for (int i = kLeadingColumns; i < static_cast<int>(expected); ++i) {
    const std::string& cell = cells[static_cast<std::size_t>(i)];
    int64_t count = 0;
    const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), count);
    if (cell.empty() || ec != std::errc() || end != cell.data() + cell.size() || count < 0)
      throw std::invalid_argument(fmt::format("{}: column '{}' ({}): an invocation count must be an integer >= 0, "
                                              "not '{}'", where, column_name(i), i + 1, cell));
    row.per_minute.push_back(count);
  }
  return row;
}

}  // namespace

AzureFunctionCounts read_azure_function(const std::filesystem::path& file, const AzureReplay& which) {
  std::ifstream in(file);
  if (!in) throw std::invalid_argument("azure trace " + file.string() + ": cannot be read (missing?)");
  std::string line;
  int line_no = 0;
  bool header_seen = false;
  std::size_t data_rows = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string where = fmt::format("azure trace {}:{}", file.string(), line_no);
    if (!header_seen) {
      check_header(cells_of(line), where);
      header_seen = true;
      continue;
    }
    if (line.empty() || line == "\r") continue;
    // Only the wanted row is split: the function hash is the third cell.
    const bool wanted = which.function.empty() ? data_rows == which.row : [&] {
      const std::size_t a = line.find(',');
      const std::size_t b = a == std::string::npos ? a : line.find(',', a + 1);
      const std::size_t c = b == std::string::npos ? b : line.find(',', b + 1);
      return c != std::string::npos && line.compare(b + 1, c - b - 1, which.function) == 0;
    }();
    ++data_rows;
    if (wanted) return parse_row(cells_of(line), where);
  }
  if (!header_seen) throw std::invalid_argument("azure trace " + file.string() + ": empty (no header)");
  if (which.function.empty())
    throw std::invalid_argument(fmt::format("azure trace {}: no row {}; the file has {} functions (rows 0..{})",
                                            file.string(), which.row, data_rows, data_rows == 0 ? 0 : data_rows - 1));
  throw std::invalid_argument(fmt::format("azure trace {}: no function with HashFunction '{}' among its {} rows",
                                          file.string(), which.function, data_rows));
}

double azure_expected_arrivals(const AzureFunctionCounts& counts, const ArrivalSpec& spec, double duration_s) {
  const int start = spec.azure.start_minute;
  const int minutes = spec.azure.minutes.value_or(kAzureMinutesPerDay - start);
  double total = 0;
  for (int m = 0; m < minutes && 60.0 * m < duration_s; ++m)
    total += static_cast<double>(counts.per_minute.at(static_cast<std::size_t>(start + m))) * spec.rate_scale;
  return total;
}

std::vector<double> azure_arrivals(const AzureFunctionCounts& counts, const ArrivalSpec& spec, double duration_s,
                                   PortableRandom& random) {
  // Counts are 64-bit: refuse a replay that would allocate without bound before drawing any of it.
  if (const double expected = azure_expected_arrivals(counts, spec, duration_s); !(expected <= kMaxArrivalsPerModel))
    throw std::invalid_argument(fmt::format("azure arrivals of function '{}': {:.3g} invocations in the replayed "
                                            "minutes exceed the limit of {:.0e} per model; lower rate_scale or minutes",
                                            counts.function, expected, kMaxArrivalsPerModel));
  const int start = spec.azure.start_minute;
  const int minutes = spec.azure.minutes.value_or(kAzureMinutesPerDay - start);
  const double shape = 1.0 / (spec.cv_scale * spec.cv_scale);
  std::vector<double> times;
  std::vector<double> partial_sums;
  for (int m = 0; m < minutes && 60.0 * m < duration_s; ++m) {
    const double scaled = static_cast<double>(counts.per_minute.at(static_cast<std::size_t>(start + m))) * spec.rate_scale;
    const double whole = std::floor(scaled);
    const auto n = static_cast<std::size_t>(whole) + (random.uniform() < scaled - whole ? 1 : 0);
    if (n == 0) continue;
    partial_sums.assign(1, random.gamma(shape));
    for (std::size_t j = 1; j <= n; ++j) partial_sums.push_back(partial_sums.back() + random.gamma(shape));
    const double total = partial_sums.back();
    // With a tiny shape (cv_scale >> 1) every gap can underflow to zero: the limit is one burst.
    const double burst_at = total > 0 ? 0 : random.uniform();
    for (std::size_t j = 0; j < n; ++j) {
      const double t = 60.0 * (m + (total > 0 ? partial_sums[j] / total : burst_at));
      if (t < duration_s) times.push_back(t);
    }
  }
  return times;
}

}  // namespace dstack::serve
