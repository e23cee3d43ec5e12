// The batch optimizer's constraint logic and enumeration on a latency function whose optimum is
// computed by hand: T(b, S) = 1 ms · (1 + 8·b / S) on 8, 16 and 32 SMs.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/analysis/batch_optimizer.h"

namespace dstack::analysis {
namespace {

double t_of(int64_t b, int s) { return 1e-3 * (1.0 + 8.0 * static_cast<double>(b) / s); }

BatchProblem problem(double slo_ms, double rate = 0, std::optional<double> cycle_ms = std::nullopt) {
  BatchProblem p;
  p.slo_s = slo_ms * 1e-3;
  p.rate_rps = rate;
  if (cycle_ms) p.cycle_s = *cycle_ms * 1e-3;
  p.sms = {32, 8, 16};  // any order
  return p;
}

TEST(BatchOptimizer, LatencyBindsWithoutARate) {
  // 2T <= 20.4 ms allows b <= 9.2·S/8; S·T/b = 1 ms · (S/b + 8) is 8/9 + 8 at (9, 8), (18, 16) and
  // (36, 32): the tie goes to the fewest SMs.
  const BatchChoice c = choose_batch(problem(20.4), t_of);
  EXPECT_EQ(c.batch, 9);
  EXPECT_EQ(c.sms, 8);
  EXPECT_EQ(c.binding, Binding::latency);
  EXPECT_NEAR(c.latency_s, 10e-3, 1e-15);
  EXPECT_NEAR(c.sm_seconds_per_request, 8 * 10e-3 / 9, 1e-15);
  EXPECT_NEAR(c.capacity_rps, 900, 1e-9);
  EXPECT_NE(c.why.find("latency binds"), std::string::npos) << c.why;
}

TEST(BatchOptimizer, SloExactlyAtTheBoundIsFeasible) {
  BatchProblem p = problem(0);
  p.slo_s = 2 * t_of(1, 32);  // exactly twice the fastest run
  const BatchChoice c = choose_batch(p, t_of);
  EXPECT_EQ(c.batch, 1);
  EXPECT_EQ(c.sms, 32);
  p.slo_s = std::nextafter(p.slo_s, 0.0);
  EXPECT_THROW(choose_batch(p, t_of), InfeasibleBatch);
}

TEST(BatchOptimizer, ImpossibleSloSaysTheSmallestThatWorks) {
  try {
    choose_batch(problem(1), t_of);
    FAIL() << "an SLO below twice the fastest batch must be refused";
  } catch (const InfeasibleBatch& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("fastest run (batch 1 on 32 SMs) takes 1.25 ms"), std::string::npos) << m;
    EXPECT_NE(m.find("smallest SLO that works is 2.5 ms"), std::string::npos) << m;
  }
  try {
    choose_batch(problem(5, 0, 4.0), t_of);
    FAIL() << "cycle + fastest run over the SLO must be refused";
  } catch (const InfeasibleBatch& e) {
    EXPECT_NE(std::string(e.what()).find("smallest SLO that works is 5.25 ms (or shorten the cycle)"),
              std::string::npos)
        << e.what();
  }
}

TEST(BatchOptimizer, RateBindsWhenSmallPartitionsCannotKeepUp) {
  // 2000 rps: b >= 2000·T = 2 + 16b/S is impossible on 8 and 16 SMs; on 32 it needs b >= 4. A batch
  // carries min(b, 2000·(20 ms − T)) = min(b, 38 − b/2) requests, so b = 25 is the cheapest.
  const BatchChoice c = choose_batch(problem(20, 2000), t_of);
  EXPECT_EQ(c.sms, 32);
  EXPECT_EQ(c.batch, 25);
  EXPECT_DOUBLE_EQ(c.requests_per_run, 25);
  EXPECT_EQ(c.binding, Binding::rate);
  EXPECT_NE(c.why.find("cannot keep up with 2000 rps"), std::string::npos) << c.why;
}

TEST(BatchOptimizer, WithACycleABatchAbsorbsTheCyclesArrivals) {
  // C = 10 ms, 500 rps: b >= 5 and a batch carries at most 5 requests; S·T/5 is least on 8 SMs.
  const BatchChoice c = choose_batch(problem(30, 500, 10.0), t_of);
  EXPECT_EQ(c.batch, 5);
  EXPECT_EQ(c.sms, 8);
  EXPECT_DOUBLE_EQ(c.requests_per_run, 5);
  EXPECT_EQ(c.binding, Binding::cost);
  EXPECT_NE(c.why.find("would not fill"), std::string::npos) << c.why;
}

TEST(BatchOptimizer, MaxBatchBindsWhenNothingElseDoes) {
  BatchProblem p = problem(1000, 0, 10.0);
  p.max_batch = 4;
  const BatchChoice c = choose_batch(p, t_of);
  EXPECT_EQ(c.batch, 4);
  EXPECT_EQ(c.binding, Binding::max_batch);
}

TEST(BatchOptimizer, RateZeroMeansLatencyAlone) {
  const BatchChoice with_rate_zero = choose_batch(problem(20, 0), t_of);
  EXPECT_DOUBLE_EQ(with_rate_zero.requests_per_run, static_cast<double>(with_rate_zero.batch));
}

TEST(BatchOptimizer, HugeRateSaysTheHighestSustainable) {
  try {
    choose_batch(problem(20, 1e9), t_of);
    FAIL() << "a rate no batch keeps up with must be refused";
  } catch (const InfeasibleBatch& e) {
    const std::string m = e.what();
    // The best is b = 36 on 32 SMs: 36 / 10 ms = 3600 rps.
    EXPECT_NE(m.find("at most 3600 rps (batch 36 on 32 SMs"), std::string::npos) << m;
  }
}

TEST(BatchOptimizer, RejectsMalformedProblems) {
  EXPECT_THROW(choose_batch(problem(0), t_of), std::invalid_argument);
  EXPECT_THROW(choose_batch(problem(10, -1), t_of), std::invalid_argument);
  EXPECT_THROW(choose_batch(problem(10, 0, 0.0), t_of), std::invalid_argument);
  BatchProblem p = problem(10);
  p.sms.clear();
  EXPECT_THROW(choose_batch(p, t_of), std::invalid_argument);
  p = problem(10);
  p.max_batch = 0;
  EXPECT_THROW(choose_batch(p, t_of), std::invalid_argument);
}

TEST(BatchOptimizer, MissingPointsAreNeverChosen) {
  // A profile-backed latency is infinite where the profile has no point.
  auto sparse = [](int64_t b, int s) { return b % 2 == 0 && s == 16 ? t_of(b, s) : INFINITY; };
  const BatchChoice c = choose_batch(problem(20), sparse);
  EXPECT_EQ(c.sms, 16);
  EXPECT_EQ(c.batch % 2, 0);
  EXPECT_LE(2 * c.latency_s, 20e-3);
}

}  // namespace
}  // namespace dstack::analysis
