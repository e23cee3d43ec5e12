// Arrival processes: the portable draws, the statistics of each process for a fixed seed (within
// tolerances several standard errors wide), rate changes, determinism, and trace files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "serve_test_util.h"
#include "runtime/serve/arrivals.h"

namespace dstack::serve {
namespace {

using test::temp_file;
using test::error_of;

struct Moments {
  double mean;
  double variance;
};

Moments moments_of(const std::vector<double>& xs) {
  const double n = static_cast<double>(xs.size());
  const double mean = std::accumulate(xs.begin(), xs.end(), 0.0) / n;
  double ss = 0;
  for (double x : xs) ss += (x - mean) * (x - mean);
  return {mean, ss / (n - 1)};
}

std::vector<double> gaps_of(const std::vector<double>& times) {
  std::vector<double> gaps;
  for (std::size_t i = 1; i < times.size(); ++i) gaps.push_back(times[i] - times[i - 1]);
  return gaps;
}

double cv_of(const std::vector<double>& xs) {
  const auto m = moments_of(xs);
  return std::sqrt(m.variance) / m.mean;
}

// Arrivals per bin of `bin_s` seconds over [t0, t1).
std::vector<double> counts_in_bins(const std::vector<double>& times, double t0, double t1, double bin_s) {
  std::vector<double> counts(static_cast<std::size_t>(std::llround((t1 - t0) / bin_s)), 0);
  for (double t : times)
    if (t >= t0 && t < t1) counts[static_cast<std::size_t>((t - t0) / bin_s)] += 1;
  return counts;
}

std::size_t count_between(const std::vector<double>& times, double t0, double t1) {
  return static_cast<std::size_t>(std::count_if(times.begin(), times.end(), [&](double t) { return t >= t0 && t < t1; }));
}

ArrivalSpec spec_of(ArrivalKind kind, double rate, double cv = 1) {
  ArrivalSpec s;
  s.kind = kind;
  s.rate_rps = rate;
  s.cv = cv;
  return s;
}

TEST(ServeRandom, DrawsHaveTheirDistributionsMoments) {
  PortableRandom r(7);
  std::vector<double> u, z, e;
  for (int i = 0; i < 200000; ++i) {
    u.push_back(r.uniform());
    z.push_back(r.normal());
    e.push_back(r.exponential());
  }
  EXPECT_GE(*std::min_element(u.begin(), u.end()), 0.0);
  EXPECT_LT(*std::max_element(u.begin(), u.end()), 1.0);
  EXPECT_NEAR(moments_of(u).mean, 0.5, 0.003);
  EXPECT_NEAR(moments_of(u).variance, 1.0 / 12, 0.001);
  EXPECT_NEAR(moments_of(z).mean, 0.0, 0.01);
  EXPECT_NEAR(moments_of(z).variance, 1.0, 0.01);
  EXPECT_NEAR(moments_of(e).mean, 1.0, 0.01);
  EXPECT_NEAR(moments_of(e).variance, 1.0, 0.02);
}

TEST(ServeRandom, GammaHasMeanAndVarianceOfItsShape) {
  for (double shape : {0.1, 0.5, 1.0, 2.5, 9.0}) {
    PortableRandom r(11);
    std::vector<double> g;
    for (int i = 0; i < 200000; ++i) g.push_back(r.gamma(shape));
    EXPECT_GE(*std::min_element(g.begin(), g.end()), 0.0);
    EXPECT_NEAR(moments_of(g).mean / shape, 1.0, 0.02) << "shape " << shape;
    EXPECT_NEAR(moments_of(g).variance / shape, 1.0, 0.06) << "shape " << shape;
  }
}

// The same arrivals on every machine: mt19937_64 is fixed by the standard, the transforms are
// dstack's. Pinned values (to a few ulps, for libm's last bit) catch a draw that changed.
TEST(ServeRandom, ArrivalsArePinnedAcrossMachines) {
  std::mt19937_64 engine(2024);
  PortableRandom r(2024);
  EXPECT_EQ(r.uniform(), static_cast<double>(engine() >> 11) * 0x1.0p-53);
  EXPECT_EQ(model_seed(1, "resnet50"), 10748057487013164308ULL);
  ArrivalSpec gamma;
  gamma.kind = ArrivalKind::Gamma;
  gamma.rate_rps = 100;
  gamma.cv = 2;
  const auto times = generate_arrivals(gamma, 1, model_seed(1, "resnet50"));
  ASSERT_EQ(times.size(), 88u);
  EXPECT_DOUBLE_EQ(times[0], 0.0010347170782559971);
  EXPECT_DOUBLE_EQ(times[1], 0.0011043144362499744);
  EXPECT_DOUBLE_EQ(times[2], 0.011789290755203033);
}

TEST(ServeSeeds, SplitMix64AndModelSeedsAreFixedAndIndependent) {
  EXPECT_EQ(splitmix64(0), 0xe220a8397b1dcdafULL);  // the reference implementation's first output
  EXPECT_EQ(model_seed(1, "resnet50"), model_seed(1, "resnet50"));
  EXPECT_NE(model_seed(1, "resnet50"), model_seed(1, "resnet18"));
  EXPECT_NE(model_seed(1, "resnet50"), model_seed(2, "resnet50"));
  // Two models' streams from one experiment seed are unrelated.
  const auto a = generate_arrivals(spec_of(ArrivalKind::Poisson, 100), 10, model_seed(1, "a"));
  const auto b = generate_arrivals(spec_of(ArrivalKind::Poisson, 100), 10, model_seed(1, "b"));
  ASSERT_FALSE(a.empty());
  EXPECT_NE(a, b);
}

TEST(ServeArrivalKinds, ParseAndNameRoundTrip) {
  for (const auto& name : arrival_kind_names()) EXPECT_EQ(arrival_kind_name(parse_arrival_kind(name)), name);
  EXPECT_EQ(error_of([] { parse_arrival_kind("possion"); }),
            "unknown arrival kind 'possion'; choose poisson, gamma, constant, trace, azure");
}

TEST(ServePoisson, CountsHaveMeanAndVarianceOfTheRate) {
  const auto times = generate_arrivals(spec_of(ArrivalKind::Poisson, 100), 1000, 42);
  const auto counts = moments_of(counts_in_bins(times, 0, 1000, 1.0));
  EXPECT_NEAR(counts.mean, 100, 1.0);          // standard error 0.32
  EXPECT_NEAR(counts.variance / 100, 1.0, 0.15);  // index of dispersion; standard error ~0.045
  EXPECT_NEAR(cv_of(gaps_of(times)), 1.0, 0.02);
}

TEST(ServePoisson, TimesAreSortedAndInsideTheDuration) {
  const auto times = generate_arrivals(spec_of(ArrivalKind::Poisson, 500), 3.5, 9);
  ASSERT_FALSE(times.empty());
  EXPECT_TRUE(std::is_sorted(times.begin(), times.end()));
  EXPECT_GE(times.front(), 0.0);
  EXPECT_LT(times.back(), 3.5);
}

TEST(ServeGamma, InterArrivalCvIsTheRequestedOne) {
  for (double cv : {0.5, 2.0, 4.0}) {
    const auto times = generate_arrivals(spec_of(ArrivalKind::Gamma, 200, cv), 2000, 3);
    EXPECT_NEAR(static_cast<double>(times.size()) / 2000, 200, 200 * 0.03) << "cv " << cv;
    EXPECT_NEAR(cv_of(gaps_of(times)) / cv, 1.0, 0.06) << "cv " << cv;
  }
}

TEST(ServeGamma, CvOneIsPoissonLike) {
  const auto times = generate_arrivals(spec_of(ArrivalKind::Gamma, 100, 1), 1000, 5);
  EXPECT_NEAR(moments_of(counts_in_bins(times, 0, 1000, 1.0)).variance / 100, 1.0, 0.15);
}

TEST(ServeConstant, GapsAreExactlyOneOverTheRate) {
  const auto times = generate_arrivals(spec_of(ArrivalKind::Constant, 50), 10, 1);
  EXPECT_EQ(times.size(), 500u);
  for (double g : gaps_of(times)) EXPECT_NEAR(g, 0.02, 1e-9);
  // The phase is seeded: two models at the same rate are not in lockstep.
  EXPECT_NE(times.front(), generate_arrivals(spec_of(ArrivalKind::Constant, 50), 10, 2).front());
}

TEST(ServeRateChanges, StepChangesTheEmpiricalRate) {
  auto spec = spec_of(ArrivalKind::Poisson, 100);
  spec.changes = {{50, 50, 400}};
  const auto times = generate_arrivals(spec, 100, 8);
  EXPECT_NEAR(static_cast<double>(count_between(times, 0, 50)), 5000, 4 * std::sqrt(5000));
  EXPECT_NEAR(static_cast<double>(count_between(times, 50, 100)), 20000, 4 * std::sqrt(20000));
  EXPECT_EQ(rate_at(spec, 49.999), 100);
  EXPECT_EQ(rate_at(spec, 50), 400);
  EXPECT_DOUBLE_EQ(expected_arrivals(spec, 0, 100), 25000);
}

TEST(ServeRateChanges, RampGoesLinearlyToItsRate) {
  auto spec = spec_of(ArrivalKind::Poisson, 100);
  spec.changes = {{20, 40, 300}};
  EXPECT_DOUBLE_EQ(rate_at(spec, 10), 100);
  EXPECT_DOUBLE_EQ(rate_at(spec, 30), 200);
  EXPECT_DOUBLE_EQ(rate_at(spec, 50), 300);
  EXPECT_DOUBLE_EQ(expected_arrivals(spec, 20, 40), 4000);  // trapezoid (100 + 300) / 2 * 20
  EXPECT_DOUBLE_EQ(expected_arrivals(spec, 20, 30), 1500);
  const auto times = generate_arrivals(spec, 60, 4);
  EXPECT_NEAR(static_cast<double>(count_between(times, 20, 30)), 1500, 4 * std::sqrt(1500));
  EXPECT_NEAR(static_cast<double>(count_between(times, 30, 40)), 2500, 4 * std::sqrt(2500));
  EXPECT_NEAR(static_cast<double>(count_between(times, 40, 60)), 6000, 4 * std::sqrt(6000));
}

TEST(ServeRateChanges, StepsAndRampsChainAndGoDown) {
  auto spec = spec_of(ArrivalKind::Constant, 100);
  spec.changes = {{10, 10, 200}, {20, 30, 50}, {30, 30, 10}};
  EXPECT_DOUBLE_EQ(rate_at(spec, 25), 125);
  EXPECT_DOUBLE_EQ(rate_at(spec, 35), 10);
  EXPECT_DOUBLE_EQ(expected_arrivals(spec, 0, 40), 1000 + 2000 + 1250 + 100);
  // A constant process puts exactly one arrival in each unit of integrated rate.
  const auto times = generate_arrivals(spec, 40, 6);
  EXPECT_NEAR(static_cast<double>(times.size()), 4350, 1);
  EXPECT_NEAR(static_cast<double>(count_between(times, 30, 40)), 100, 1);
}

// Time rescaling keeps the burstiness: the gaps of each constant-rate stretch have the requested cv.
TEST(ServeRateChanges, GammaBurstinessSurvivesARateChange) {
  auto spec = spec_of(ArrivalKind::Gamma, 100, 3);
  spec.changes = {{500, 500, 1000}};
  const auto times = generate_arrivals(spec, 1000, 12);
  std::vector<double> before, after;
  for (double t : times) (t < 500 ? before : after).push_back(t);
  EXPECT_NEAR(cv_of(gaps_of(before)) / 3, 1.0, 0.1);
  EXPECT_NEAR(cv_of(gaps_of(after)) / 3, 1.0, 0.1);
  EXPECT_NEAR(static_cast<double>(after.size()) / 500, 1000, 1000 * 0.05);
}

TEST(ServeDeterminism, SameSeedSameBytesOtherSeedOtherTimes) {
  auto spec = spec_of(ArrivalKind::Gamma, 300, 2.5);
  spec.changes = {{1, 3, 50}};
  const auto a = generate_arrivals(spec, 5, 77);
  const auto b = generate_arrivals(spec, 5, 77);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)), 0);
  EXPECT_NE(a, generate_arrivals(spec, 5, 78));
}

TEST(ServeArrivalValidation, BadSpecsNameTheField) {
  EXPECT_EQ(error_of([] { generate_arrivals(spec_of(ArrivalKind::Poisson, 0), 1, 1); }),
            "poisson arrivals: rate_rps must be positive, not 0");
  EXPECT_EQ(error_of([] { generate_arrivals(spec_of(ArrivalKind::Gamma, 10, -1), 1, 1); }),
            "gamma arrivals: cv must be in (0, 100] (1 is Poisson), not -1");
  EXPECT_EQ(error_of([] { generate_arrivals(spec_of(ArrivalKind::Poisson, 10), 0, 1); }),
            "arrivals: duration must be positive, not 0 s");
  // Absurd sizes are refused before anything is allocated.
  EXPECT_EQ(error_of([] { generate_arrivals(spec_of(ArrivalKind::Poisson, 1e15), 1, 1); }),
            "arrivals: 1e+15 requests expected in 1 s (the rate's integral) exceed the limit of 2e+07 per model; "
            "shorten the duration or lower the rate");
  EXPECT_NE(error_of([] { generate_arrivals(spec_of(ArrivalKind::Gamma, 100, 2), 1e12, 1); }).find("exceed the limit"),
            std::string::npos);
  auto overlapping = spec_of(ArrivalKind::Poisson, 10);
  overlapping.changes = {{5, 10, 20}, {8, 8, 30}};
  EXPECT_EQ(error_of([&] { validate_arrival_spec(overlapping); }),
            "poisson arrivals: changes[1] starts at 8 s, before 10 s (the end of the change before it, or 0); "
            "list changes in time order without overlaps");
  ArrivalSpec trace;
  trace.kind = ArrivalKind::Trace;
  trace.file = "x.csv";
  trace.changes = {{1, 1, 5}};
  EXPECT_EQ(error_of([&] { validate_arrival_spec(trace); }),
            "trace arrivals: rate changes apply to poisson, gamma and constant arrivals; a trace's rate comes from "
            "its file (scale it with rate_scale)");
  EXPECT_EQ(error_of([&] { rate_at(trace, 1); }), "trace arrivals have no rate function");
}

TEST(ServeTraceFile, ReadsTimeColumnSortedWithCommentsAndOtherColumns) {
  const auto file = temp_file("trace_ok.csv", "# captured 2024\nid,time_s\n1,0.5\n2,0.25\r\n\n# gap\n3,2.75\n");
  EXPECT_EQ(read_arrival_trace(file), (std::vector<double>{0.25, 0.5, 2.75}));
  ArrivalSpec spec;
  spec.kind = ArrivalKind::Trace;
  spec.file = file;
  EXPECT_EQ(generate_arrivals(spec, 1, 1), (std::vector<double>{0.25, 0.5}));
  spec.rate_scale = 2;  // time runs twice as fast
  EXPECT_EQ(generate_arrivals(spec, 2, 1), (std::vector<double>{0.125, 0.25, 1.375}));
}

TEST(ServeTraceFile, ErrorsNameFileLineAndColumn) {
  const auto bad = temp_file("trace_bad.csv", "id,time_s\n1,0.5\n2,soon\n");
  EXPECT_EQ(error_of([&] { read_arrival_trace(bad); }),
            "arrival trace " + bad.string() + ":3: column 'time_s' (2) must be a time >= 0 in seconds, not 'soon'");
  const auto negative = temp_file("trace_negative.csv", "time_s\n-1\n");
  EXPECT_NE(error_of([&] { read_arrival_trace(negative); }).find(":2: column 'time_s' (1)"), std::string::npos);
  const auto no_column = temp_file("trace_no_column.csv", "# x\nt\n1\n");
  EXPECT_EQ(error_of([&] { read_arrival_trace(no_column); }),
            "arrival trace " + no_column.string() + ":2: no column 'time_s' in the header");
  EXPECT_EQ(error_of([] { read_arrival_trace("/nonexistent/trace.csv"); }),
            "arrival trace /nonexistent/trace.csv: cannot be read (missing?)");
}

}  // namespace
}  // namespace dstack::serve
