// The Azure Functions 2019 reader on the shipped synthetic day and on malformed files, and its replay:
// counts per minute kept, rate and cv scaling, the window of minutes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>

#include "serve_test_util.h"
#include "runtime/serve/azure_trace.h"

namespace dstack::serve {
namespace {

using test::temp_file;
using test::error_of;

const std::filesystem::path kSynthetic = DSTACK_AZURE_SYNTHETIC;

std::string header() {
  std::string h = "HashOwner,HashApp,HashFunction,Trigger";
  for (int m = 1; m <= kAzureMinutesPerDay; ++m) h.append(",").append(std::to_string(m));
  return h;
}

// A row whose every minute has `count`, except `bad_cell` (written verbatim at minute column 5).
std::string row(const std::string& function, const std::string& count, const std::string& bad_cell = "") {
  std::string r = "o,a," + function + ",http";
  for (int m = 1; m <= kAzureMinutesPerDay; ++m) r.append(",").append(m == 5 && !bad_cell.empty() ? bad_cell : count);
  return r;
}

AzureReplay by_row(std::size_t r) {
  AzureReplay a;
  a.row = r;
  return a;
}

AzureFunctionCounts flat(int64_t count) {
  AzureFunctionCounts c;
  c.per_minute.assign(kAzureMinutesPerDay, count);
  return c;
}

std::vector<std::size_t> per_minute_counts(const std::vector<double>& times, int minutes) {
  std::vector<std::size_t> counts(static_cast<std::size_t>(minutes), 0);
  for (double t : times) ++counts.at(static_cast<std::size_t>(t / 60));
  return counts;
}

double gap_cv_within_minutes(const std::vector<double>& times) {
  std::vector<double> gaps;
  for (std::size_t i = 1; i < times.size(); ++i)
    if (std::floor(times[i] / 60) == std::floor(times[i - 1] / 60)) gaps.push_back(times[i] - times[i - 1]);
  const double mean = std::accumulate(gaps.begin(), gaps.end(), 0.0) / static_cast<double>(gaps.size());
  double ss = 0;
  for (double g : gaps) ss += (g - mean) * (g - mean);
  return std::sqrt(ss / static_cast<double>(gaps.size() - 1)) / mean;
}

TEST(ServeAzureTrace, ReadsTheShippedSyntheticDayByRowAndByHash) {
  const auto web = read_azure_function(kSynthetic, by_row(0));
  EXPECT_EQ(web.trigger, "http");
  EXPECT_EQ(web.function.size(), 64u);
  ASSERT_EQ(web.per_minute.size(), static_cast<std::size_t>(kAzureMinutesPerDay));
  EXPECT_EQ(web.per_minute[0], 150);  // pinned by make_synthetic_azure.py's seed
  EXPECT_EQ(std::accumulate(web.per_minute.begin(), web.per_minute.end(), int64_t{0}), 432234);

  AzureReplay by_hash;
  by_hash.function = read_azure_function(kSynthetic, by_row(2)).function;
  const auto timer = read_azure_function(kSynthetic, by_hash);
  EXPECT_EQ(timer.trigger, "timer");
  EXPECT_TRUE(std::all_of(timer.per_minute.begin(), timer.per_minute.end(), [](int64_t c) { return c == 12; }));
}

TEST(ServeAzureTrace, MissingFunctionOrRowIsExplained) {
  AzureReplay missing;
  missing.function = "feedbeef";
  EXPECT_EQ(error_of([&] { read_azure_function(kSynthetic, missing); }),
            "azure trace " + kSynthetic.string() + ": no function with HashFunction 'feedbeef' among its 8 rows");
  EXPECT_EQ(error_of([&] { read_azure_function(kSynthetic, by_row(8)); }),
            "azure trace " + kSynthetic.string() + ": no row 8; the file has 8 functions (rows 0..7)");
  EXPECT_EQ(error_of([] { read_azure_function("/nonexistent/azure.csv", by_row(0)); }),
            "azure trace /nonexistent/azure.csv: cannot be read (missing?)");
}

TEST(ServeAzureTrace, MalformedFilesNameLineAndColumn) {
  const auto bad_count = temp_file("azure_bad_count.csv", header() + "\n" + row("f0", "1") + "\n" + row("f1", "2", "x") + "\n");
  AzureReplay f1;
  f1.function = "f1";
  EXPECT_EQ(error_of([&] { read_azure_function(bad_count, f1); }),
            "azure trace " + bad_count.string() + ":3: column '5' (9): an invocation count must be an integer >= 0, not 'x'");
  // Rows other than the chosen one are not parsed.
  EXPECT_EQ(read_azure_function(bad_count, by_row(0)).per_minute[4], 1);

  const auto negative = temp_file("azure_negative.csv", header() + "\n" + row("f0", "1", "-3") + "\n");
  EXPECT_NE(error_of([&] { read_azure_function(negative, by_row(0)); }).find(":2: column '5' (9)"), std::string::npos);

  std::string h = header();
  h.replace(h.find(",3,"), 3, ",x,");
  const auto bad_header = temp_file("azure_bad_header.csv", h + "\n" + row("f0", "1") + "\n");
  EXPECT_EQ(error_of([&] { read_azure_function(bad_header, by_row(0)); }),
            "azure trace " + bad_header.string() + ":1: header column 7 is 'x', expected '3'");

  const auto short_row = temp_file("azure_short_row.csv", header() + "\no,a,f0,http,1,2\n");
  EXPECT_EQ(error_of([&] { read_azure_function(short_row, by_row(0)); }),
            "azure trace " + short_row.string() + ":2: 6 cells, the header has 1444");

  const auto no_minutes = temp_file("azure_no_minutes.csv", "HashOwner,HashApp,HashFunction,Trigger,1,2\n");
  EXPECT_EQ(error_of([&] { read_azure_function(no_minutes, by_row(0)); }),
            "azure trace " + no_minutes.string() + ":1: the header has 6 columns; the Azure Functions 2019 format "
            "has 1444 (HashOwner,HashApp,HashFunction,Trigger,1,...,1440)");
}

TEST(ServeAzureReplay, EachMinuteKeepsItsCount) {
  ArrivalSpec spec;
  spec.kind = ArrivalKind::Azure;
  auto counts = flat(0);
  for (int m = 0; m < 5; ++m) counts.per_minute[static_cast<std::size_t>(m)] = 10 * (m + 1);
  PortableRandom random(1);
  const auto times = azure_arrivals(counts, spec, 300, random);
  EXPECT_TRUE(std::is_sorted(times.begin(), times.end()));
  EXPECT_EQ(per_minute_counts(times, 5), (std::vector<std::size_t>{10, 20, 30, 40, 50}));
}

// A count near int64's limit (the format allows it) is refused before anything is drawn or allocated.
TEST(ServeAzureReplay, AbsurdCountsAreRefusedByTheRequestLimit) {
  ArrivalSpec spec;
  spec.kind = ArrivalKind::Azure;
  auto counts = flat(0);
  counts.function = "f";
  counts.per_minute[1] = int64_t{1} << 62;
  PortableRandom random(1);
  EXPECT_EQ(azure_expected_arrivals(counts, spec, 120), 4.611686018427388e18);
  try {
    azure_arrivals(counts, spec, 120, random);
    FAIL() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "azure arrivals of function 'f': 4.61e+18 invocations in the replayed minutes exceed the "
                           "limit of 2e+07 per model; lower rate_scale or minutes");
  }
  EXPECT_TRUE(azure_arrivals(counts, spec, 60, random).empty()) << "minute 1 is not replayed in the first 60 s";
}

TEST(ServeAzureReplay, RateScaleMultipliesCountsAndDrawsTheFraction) {
  ArrivalSpec spec;
  spec.kind = ArrivalKind::Azure;
  spec.rate_scale = 0.5;
  PortableRandom random(2);
  const auto halved = azure_arrivals(flat(12), spec, 600, random);
  for (auto c : per_minute_counts(halved, 10)) EXPECT_EQ(c, 6u);
  spec.rate_scale = 0.3;  // 3.6 a minute: 3 or 4, 4 with probability 0.6
  const auto fractional = azure_arrivals(flat(12), spec, 60.0 * kAzureMinutesPerDay, random);
  const auto counts = per_minute_counts(fractional, kAzureMinutesPerDay);
  EXPECT_TRUE(std::all_of(counts.begin(), counts.end(), [](std::size_t c) { return c == 3 || c == 4; }));
  EXPECT_NEAR(static_cast<double>(fractional.size()) / kAzureMinutesPerDay, 3.6, 0.06);
}

TEST(ServeAzureReplay, CvOneSpreadsUniformlyAndCvScaleMakesBursts) {
  ArrivalSpec spec;
  spec.kind = ArrivalKind::Azure;
  PortableRandom random(3);
  const auto uniform = azure_arrivals(flat(2000), spec, 600, random);
  double sum = 0, ss = 0;
  for (double t : uniform) {
    const double within = std::fmod(t, 60.0);
    sum += within;
    ss += (within - 30) * (within - 30);
  }
  const double n = static_cast<double>(uniform.size());
  EXPECT_NEAR(sum / n, 30, 0.3);     // uniform on [0, 60): mean 30, variance 300
  EXPECT_NEAR(ss / n, 300, 6);
  EXPECT_NEAR(gap_cv_within_minutes(uniform), 1.0, 0.05);
  spec.cv_scale = 3;
  const auto bursty = azure_arrivals(flat(2000), spec, 600, random);
  EXPECT_EQ(bursty.size(), uniform.size());
  EXPECT_NEAR(gap_cv_within_minutes(bursty) / 3, 1.0, 0.1);
}

TEST(ServeAzureReplay, StartMinuteAndMinutesChooseTheWindow) {
  // Row 7 of the synthetic day runs a batch job on the hour (~2000) over a trickle (~20).
  ArrivalSpec spec;
  spec.kind = ArrivalKind::Azure;
  spec.file = kSynthetic;
  spec.azure.row = 7;
  spec.azure.start_minute = 59;
  const auto times = generate_arrivals(spec, 180, 4);
  const auto counts = per_minute_counts(times, 3);
  EXPECT_LT(counts[0], 100u);
  EXPECT_GT(counts[1], 1800u);
  EXPECT_LT(counts[2], 100u);
  spec.azure.minutes = 2;
  const auto two = generate_arrivals(spec, 180, 4);
  EXPECT_LT(two.back(), 120.0);
  EXPECT_EQ(two, std::vector<double>(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(two.size())));
  spec.azure.minutes = 1382;
  EXPECT_EQ(error_of([&] { generate_arrivals(spec, 180, 4); }),
            "azure arrivals: minutes must be in 1..1381 (the day has 1440 minutes from start_minute 59), not 1382");
}

TEST(ServeAzureReplay, SameSeedSameArrivals) {
  ArrivalSpec spec;
  spec.kind = ArrivalKind::Azure;
  spec.file = kSynthetic;
  spec.azure.row = 3;
  spec.azure.start_minute = 600;
  spec.rate_scale = 1.7;
  spec.cv_scale = 2;
  const auto a = generate_arrivals(spec, 600, 10);
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, generate_arrivals(spec, 600, 10));
  EXPECT_NE(a, generate_arrivals(spec, 600, 11));
}

}  // namespace
}  // namespace dstack::serve
