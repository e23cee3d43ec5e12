// The baselines' own rules, checked by hand on a fake oracle (latency linear in the batch) and on
// hand-built views: GSLICE's share rule and adaptive batching step (runtime/sched/gslice_rules.h),
// Clipper's AIMD, Triton's and MPS's batching timeouts, temporal's round robin, Nexus's batch fit
// and duty cycle, and the ideal scheduler's per-kernel dispatch. The invariants every policy must
// keep are in test_policy_invariants.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include "runtime/sched/gslice_rules.h"
#include "runtime/sched/registry.h"

namespace dstack::sched {
namespace {

// T_m(b, S) = (base_m + per_m·b) · max(1, knee_m / S) seconds; an H100's sizes (8..120 in groups
// of 8, then 132).
class FakeOracle final : public Oracle {
 public:
  struct Model {
    double base_s = 1e-3;
    double per_s = 1e-4;
    int knee = 32;
  };
  explicit FakeOracle(std::vector<Model> models) : models_(std::move(models)) {
    for (int s = 8; s <= 120; s += 8) sizes_.push_back(s);
    sizes_.push_back(132);
  }
  int sm_count() const override { return 132; }
  const std::vector<int>& partition_sizes() const override { return sizes_; }
  double latency_s(int model, int64_t batch, int sms) const override {
    const Model& m = models_.at(static_cast<std::size_t>(model));
    return (m.base_s + m.per_s * static_cast<double>(batch)) * std::max(1.0, static_cast<double>(m.knee) / sms);
  }
  int knee_sms(int model, int64_t /*batch*/) const override { return models_.at(static_cast<std::size_t>(model)).knee; }
  double usable_parallelism(int model, int64_t batch) const override { return knee_sms(model, batch); }

 private:
  std::vector<Model> models_;
  std::vector<int> sizes_;
};

struct Harness {
  FakeOracle oracle;
  PolicyContext ctx;
  ResolvedLayout layout;
  std::unique_ptr<Policy> policy;
  PartitionLayout started;

  Harness(const std::string& name, std::vector<FakeOracle::Model> models, std::vector<ModelSpec> specs,
        nlohmann::json options = nlohmann::json::object())
      : oracle(std::move(models)) {
    ctx.models = std::move(specs);
    ctx.oracle = &oracle;
    ctx.options = std::move(options);
    policy = make_policy(name);
    started = policy->start(ctx);
    for (std::size_t p = 0; p < started.sms.size(); ++p)
      layout.partitions.push_back({started.sms[p], 0, 0});
    layout.whole_gpu = started.sms.size() == 1 && started.sms[0] == 132;
  }

  // A view at `now` with these queue lengths (oldest arrival `oldest`) and these models in flight.
  View view(double now, std::vector<int64_t> queued, double oldest = 0, std::vector<int> busy = {}) const {
    View v;
    v.now_s = now;
    v.models.resize(queued.size());
    for (std::size_t m = 0; m < queued.size(); ++m) {
      v.models[m].queued = queued[m];
      v.models[m].oldest_arrival_s = oldest;
    }
    for (int m : busy) v.models[static_cast<std::size_t>(m)].in_flight = true;
    // Every queued request arrived at `oldest`: all are late once their SLO has passed.
    v.late_if_finished_at = [this, queued, oldest](int m, double t) {
      const auto i = static_cast<std::size_t>(m);
      return t > oldest + ctx.models[i].slo_s ? queued[i] : int64_t{0};
    };
    v.layout = &layout;
    v.partition_runs.assign(layout.partitions.size(), 0);
    return v;
  }
};

ModelSpec spec(double slo_ms, double rate = 0, bool high = false) { return {"m", slo_ms * 1e-3, rate, high, 4096}; }

// --- GSLICE ---------------------------------------------------------------------------------------

TEST(GsliceShares, KneesFitLeftoverGoesToHighPriority) {
  // 4 + 2 + 3 + 1 = 10 of 15 groups: the 5 left over go to the one high-priority model.
  EXPECT_EQ(gslice_shares({32, 16, 24, 8}, {true, false, false, false}, 120, 8), (std::vector<int>{72, 16, 24, 8}));
  // Two high-priority models split the 5 in proportion 4 : 2 (3.33, 1.67: floors 3, 1, the last
  // group to the larger remainder).
  EXPECT_EQ(gslice_shares({32, 16, 24, 8}, {true, true, false, false}, 120, 8), (std::vector<int>{56, 32, 24, 8}));
}

TEST(GsliceShares, KneesFitWithoutHighPriorityLeftoverGoesToAll) {
  EXPECT_EQ(gslice_shares({32, 16}, {false, false}, 120, 8), (std::vector<int>{80, 40}));
  EXPECT_EQ(gslice_shares({8, 8, 8}, {false, false, false}, 120, 8), (std::vector<int>{40, 40, 40}));
  // 5 groups, knees 2 + 1: 2 left, exact 1.33 and 0.67 -> floors 1, 0, the last to the larger remainder.
  EXPECT_EQ(gslice_shares({16, 8}, {false, false}, 40, 8), (std::vector<int>{24, 16}));
  // A knee between groups is rounded up to whole groups first: 3 + 13 = 16 > 15 groups, so model 1
  // (not high priority) gets the 12 model 0 leaves.
  EXPECT_EQ(gslice_shares({20, 100}, {true, false}, 120, 8), (std::vector<int>{24, 96}));
}

TEST(GsliceShares, OverloadHighPriorityKeepsItsKneeOthersShareTheRest) {
  // 8 + 8 + 4 + 2 = 22 > 15 groups: the high-priority model keeps 8, the rest share 7 as 8 : 4 : 2.
  EXPECT_EQ(gslice_shares({64, 64, 32, 16}, {true, false, false, false}, 120, 8), (std::vector<int>{64, 32, 16, 8}));
  // 3 groups for knees 15 : 1 -> 2.81, 0.19 -> 3, 0; the last raised to one group, taken from the first.
  EXPECT_EQ(gslice_shares({96, 120, 8}, {true, false, false}, 120, 8), (std::vector<int>{96, 16, 8}));
}

TEST(GsliceShares, HighPriorityKneesTooBigEveryoneSharesInProportion) {
  // The high-priority knee takes all 15 groups: everyone shares 15 as 15 : 8 : 8 -> 7.26, 3.87, 3.87
  // -> 7, 3, 3 and the two groups left to the larger remainders (the tie to the lower index first).
  EXPECT_EQ(gslice_shares({120, 64, 64}, {true, false, false}, 120, 8), (std::vector<int>{56, 32, 32}));
  // Everyone high priority and over: in proportion too.
  EXPECT_EQ(gslice_shares({120, 120}, {true, true}, 120, 8), (std::vector<int>{64, 56}));
}

TEST(GsliceShares, SharesAreWholeGroupsWithinCapacity) {
  const std::vector<int> knees = {40, 72, 8, 16, 104};
  for (int h = 0; h < 32; ++h) {
    std::vector<bool> high;
    for (int i = 0; i < 5; ++i) high.push_back(((h >> i) & 1) != 0);
    const auto s = gslice_shares(knees, high, 120, 8);
    int sum = 0;
    for (int x : s) {
      EXPECT_GE(x, 8);
      EXPECT_EQ(x % 8, 0);
      sum += x;
    }
    EXPECT_LE(sum, 120);
  }
  EXPECT_THROW(gslice_shares(std::vector<int>(16, 8), std::vector<bool>(16, false), 120, 8), std::invalid_argument);
}

TEST(GsliceAdaptBatch, ShrinksGrowsOrStays) {
  // L = 20 ms > S = 10 ms at b = 16: 1.25 ms per request, shrink by floor(10 / 1.25) = 8.
  EXPECT_EQ(gslice_adapt_batch(16, 16, 20e-3, 10e-3, 64), 8);
  // L = 5 ms at b = 8, S = 10 ms: S - L >= 10% of S, grow by floor(5 / 0.625) = 8.
  EXPECT_EQ(gslice_adapt_batch(16, 8, 5e-3, 10e-3, 64), 24);
  // Within 10% below the target: unchanged.
  EXPECT_EQ(gslice_adapt_batch(16, 16, 9.5e-3, 10e-3, 64), 16);
  // Capped at 64.
  EXPECT_EQ(gslice_adapt_batch(60, 60, 1e-3, 10e-3, 64), 64);
  // Batch 1 too slow stays 1 (no more GPU to ask for).
  EXPECT_EQ(gslice_adapt_batch(1, 1, 30e-3, 10e-3, 64), 1);
  // A short batch that was too slow shrinks from its own size: 4 - floor(10 / 5) = 2.
  EXPECT_EQ(gslice_adapt_batch(32, 4, 20e-3, 10e-3, 64), 2);
}

TEST(GslicePolicy, KneePartitionsAndAdaptiveCap) {
  // Knees 32, 16, 24: 9 of 15 groups; the 6 left go to the high-priority model 0.
  Harness s("gslice", {{1e-3, 1e-4, 32}, {1e-3, 1e-4, 16}, {1e-3, 1e-4, 24}},
          {spec(40, 100, true), spec(40, 100), spec(40, 100)}, {{"ref_batch", 16}});
  EXPECT_EQ(s.started.sms, (std::vector<int>{80, 16, 24}));
  Decision d = s.policy->decide(s.view(0, {100, 100, 0}));
  ASSERT_EQ(d.dispatches.size(), 2u);
  EXPECT_EQ(d.dispatches[0].model, 0);
  EXPECT_EQ(d.dispatches[0].batch, 16);
  EXPECT_EQ(d.dispatches[0].partition, 0);
  EXPECT_EQ(d.dispatches[1].model, 1);
  EXPECT_EQ(d.dispatches[1].partition, 1);
  // Model 1's batch of 16 took 40 ms against S = 20 ms: 2.5 ms a request, shrink by 8.
  s.policy->on_completion({1, 16, 1, 0.0, 0.040, 0});
  d = s.policy->decide(s.view(0.04, {0, 100, 0}));
  ASSERT_EQ(d.dispatches.size(), 1u);
  EXPECT_EQ(d.dispatches[0].batch, 8);
}

// --- Clipper ----------------------------------------------------------------------------------------

int64_t only_batch(const Decision& d) {
  EXPECT_EQ(d.dispatches.size(), 1u);
  return d.dispatches.empty() ? -1 : d.dispatches[0].batch;
}

TEST(ClipperPolicy, AdditiveIncreaseMultiplicativeDecrease) {
  Harness s("clipper", {{}}, {spec(40)}, {{"signal", "requests"}});
  EXPECT_EQ(s.started.sms, (std::vector<int>{132}));
  EXPECT_EQ(only_batch(s.policy->decide(s.view(0, {100}))), 1);
  for (int64_t b = 1; b < 12; ++b) s.policy->on_completion({0, b, 0, 0, 1e-3, 0});
  EXPECT_EQ(only_batch(s.policy->decide(s.view(0, {100}))), 12);
  s.policy->on_completion({0, 12, 0, 0, 1e-3, 3});  // missed: floor(12 · 0.9) = 10
  EXPECT_EQ(only_batch(s.policy->decide(s.view(0, {100}))), 10);
  s.policy->on_completion({0, 10, 0, 0, 1e-3, 1});  // floor(9.0) = 9
  EXPECT_EQ(only_batch(s.policy->decide(s.view(0, {100}))), 9);
  for (int k = 0; k < 30; ++k) s.policy->on_completion({0, 1, 0, 0, 1e-3, 1});
  EXPECT_EQ(only_batch(s.policy->decide(s.view(0, {100}))), 1);  // never below 1
  // Takes what is queued when fewer than the cap; nothing while busy.
  for (int k = 0; k < 5; ++k) s.policy->on_completion({0, 1, 0, 0, 1e-3, 0});
  EXPECT_EQ(only_batch(s.policy->decide(s.view(0, {3}))), 3);
  EXPECT_TRUE(s.policy->decide(s.view(0, {100}, 0, {0})).dispatches.empty());
}

TEST(ClipperPolicy, BatchLatencySignalIsTheDefaultAndCap) {
  Harness s("clipper", {{}}, {spec(40)}, {{"max_batch", 3}});
  for (int k = 0; k < 10; ++k) s.policy->on_completion({0, 1, 0, 0, 1e-3, 5});  // late requests, fast batch
  EXPECT_EQ(only_batch(s.policy->decide(s.view(0, {100}))), 3);
  s.policy->on_completion({0, 3, 0, 0, 50e-3, 0});  // the batch itself took over the SLO
  EXPECT_EQ(only_batch(s.policy->decide(s.view(0, {100}))), 2);
  EXPECT_THROW(Harness("clipper", {{}}, {spec(40)}, {{"signal", "nope"}}), std::invalid_argument);
}

// --- Triton and MPS ---------------------------------------------------------------------------------

TEST(TritonPolicy, FullBatchAtOnceElseAfterTheQueueDelay) {
  Harness s("triton", {{}, {}}, {spec(40), spec(40)}, {{"max_batch", 32}, {"max_queue_delay_ms", 2}});
  EXPECT_EQ(s.started.sms, (std::vector<int>{132}));
  // 5 queued, the oldest 1 ms old: wait until it has waited 2 ms.
  Decision d = s.policy->decide(s.view(0.011, {5, 0}, 0.010));
  EXPECT_TRUE(d.dispatches.empty());
  ASSERT_TRUE(d.wake_at_s.has_value());
  EXPECT_DOUBLE_EQ(*d.wake_at_s, 0.012);
  EXPECT_EQ(only_batch(s.policy->decide(s.view(0.012, {5, 0}, 0.010))), 5);
  // A full batch goes at once, both models concurrently on partition 0.
  d = s.policy->decide(s.view(0.0101, {40, 32}, 0.010));
  ASSERT_EQ(d.dispatches.size(), 2u);
  EXPECT_EQ(d.dispatches[0].batch, 32);
  EXPECT_EQ(d.dispatches[1].batch, 32);
  EXPECT_EQ(d.dispatches[1].partition, 0);
  // A busy model waits for its instance.
  EXPECT_TRUE(s.policy->decide(s.view(0.1, {40, 0}, 0.010, {0})).dispatches.empty());
}

TEST(MpsPolicy, FixedBatchOrAQuarterOfTheSlo) {
  Harness s("mps", {{}}, {spec(40)});
  Decision d = s.policy->decide(s.view(0.001, {3}, 0.0));
  EXPECT_TRUE(d.dispatches.empty());
  ASSERT_TRUE(d.wake_at_s.has_value());
  EXPECT_DOUBLE_EQ(*d.wake_at_s, 0.010);
  EXPECT_EQ(only_batch(s.policy->decide(s.view(0.010, {3}, 0.0))), 3);
  EXPECT_EQ(only_batch(s.policy->decide(s.view(0.001, {9}, 0.0))), 8);
  Harness four("mps", {{}}, {spec(40)}, {{"batch", 4}});
  EXPECT_EQ(only_batch(four.policy->decide(four.view(0.001, {9}, 0.0))), 4);
}

// --- Temporal ---------------------------------------------------------------------------------------

TEST(TemporalPolicy, RoundRobinOneRunAtATime) {
  Harness s("temporal", {{}, {}, {}}, {spec(40, 100), spec(40, 100), spec(40, 100)});
  EXPECT_EQ(s.started.sms, (std::vector<int>{132}));
  Decision d = s.policy->decide(s.view(0, {5, 5, 5}));
  ASSERT_EQ(d.dispatches.size(), 1u);
  EXPECT_EQ(d.dispatches[0].model, 0);
  EXPECT_TRUE(s.policy->decide(s.view(0, {5, 5, 5}, 0, {0})).dispatches.empty());
  d = s.policy->decide(s.view(0.001, {5, 0, 5}));  // model 1 has nothing: model 2 next
  ASSERT_EQ(d.dispatches.size(), 1u);
  EXPECT_EQ(d.dispatches[0].model, 2);
  d = s.policy->decide(s.view(0.002, {5, 5, 5}));
  ASSERT_EQ(d.dispatches.size(), 1u);
  EXPECT_EQ(d.dispatches[0].model, 0);
  // The batch: cycle 20 ms, 100 rps -> 2 requests a cycle; the optimizer's cheapest batch >= 2.
  analysis::BatchProblem p{.slo_s = 0.04, .rate_rps = 100, .cycle_s = 0.02, .max_batch = 64, .sms = {132}};
  EXPECT_EQ(d.dispatches[0].batch, std::min<int64_t>(5, s.oracle.choose_batch(0, p).batch));
}

TEST(TemporalPolicy, ChoosesTheShortestStableCycle) {
  // T = 2 ms + 0.1 ms·b; SLOs 10 and 40 ms, 3000 and 1000 rps. At C = min SLO / 2 = 5 ms a cycle's
  // arrivals (15 and 5) take 3.5 + 2.5 = 6 ms > 5 ms: the queues would grow without bound. The
  // round 4 ms + 0.1 ms·(3C + C) fits 90% of C from C = 8 ms on; the first candidate past it,
  // 5 ms·8^(8/31) = 8.55 ms (8^(7/31) gives 7.997 ms: 7.2 ms > 7.197 ms), carries 26 and 9. Model 0
  // cannot meet its SLO at any such cycle (C + 2 ms > 10 ms - 0.1 ms·b): batch 1 raised to its 26
  // arrivals; model 1's optimizer takes the smallest batch that carries a cycle's arrivals, 9 (the
  // cost per request counts a cycle's arrivals, so a larger batch saves nothing).
  Harness s("temporal", {{2e-3, 1e-4, 32}, {2e-3, 1e-4, 32}}, {spec(10, 3000), spec(40, 1000)});
  EXPECT_EQ(only_batch(s.policy->decide(s.view(0, {100, 100}))), 26);
  const Decision d = s.policy->decide(s.view(0.0046, {100, 100}));
  ASSERT_EQ(d.dispatches.size(), 1u);
  EXPECT_EQ(d.dispatches[0].model, 1);
  EXPECT_EQ(d.dispatches[0].batch, 9);
  // With the cycle fixed at 5 ms (the old default): model 0's batch carries 5 ms of arrivals, 15.
  Harness fixed("temporal", {{2e-3, 1e-4, 32}, {2e-3, 1e-4, 32}}, {spec(10, 3000), spec(40, 1000)},
                {{"cycle_ms", 5}});
  EXPECT_EQ(only_batch(fixed.policy->decide(fixed.view(0, {100, 100}))), 15);
}

// --- Nexus ------------------------------------------------------------------------------------------

TEST(NexusPolicy, BatchesFitTheDutyCycleInFixedOrder) {
  // D = 20 ms / 2 = 10 ms; 1000 and 500 rps -> batches 10 and 5 (2 + 1.5 ms: they fit).
  Harness s("nexus", {{}, {}}, {spec(20, 1000), spec(40, 500)}, {{"adapt_rates", false}});
  EXPECT_EQ(s.started.sms, (std::vector<int>{132}));
  EXPECT_EQ(only_batch(s.policy->decide(s.view(0, {100, 100}))), 10);
  EXPECT_TRUE(s.policy->decide(s.view(0.001, {100, 100}, 0, {0})).dispatches.empty());
  Decision d = s.policy->decide(s.view(0.002, {100, 100}));
  ASSERT_EQ(d.dispatches.size(), 1u);
  EXPECT_EQ(d.dispatches[0].model, 1);
  EXPECT_EQ(d.dispatches[0].batch, 5);
  // The cycle is over at 3.5 ms: the next starts at 10 ms.
  d = s.policy->decide(s.view(0.0035, {100, 100}));
  EXPECT_TRUE(d.dispatches.empty());
  ASSERT_TRUE(d.wake_at_s.has_value());
  EXPECT_DOUBLE_EQ(*d.wake_at_s, 0.010);
  d = s.policy->decide(s.view(0.010, {100, 100}));
  ASSERT_EQ(d.dispatches.size(), 1u);
  EXPECT_EQ(d.dispatches[0].model, 0);
}

TEST(NexusPolicy, OverfullCycleShrinksTheLargestBatches) {
  // 5000 rps each -> 50 and 50: 6 + 6 ms > D = 10 ms; shrinking in proportion (ties: lower index)
  // one request at a time ends at 1 + 0.1·b0 + 1 + 0.1·b1 <= 10, i.e. 40 and 40.
  Harness s("nexus", {{}, {}}, {spec(20, 5000), spec(40, 5000)}, {{"adapt_rates", false}, {"duty_cycle_ms", 10}});
  EXPECT_EQ(only_batch(s.policy->decide(s.view(0, {100, 100}))), 40);
  Decision d = s.policy->decide(s.view(0.005, {100, 100}));
  ASSERT_EQ(d.dispatches.size(), 1u);
  EXPECT_EQ(d.dispatches[0].batch, 40);
  // In proportion: 3000 and 6000 rps fit 30 and 60 (4 + 7 ms > 10 ms); b0 + b1 <= 80 with the
  // fraction kept as equal as single requests allow: 27 (0.9) and 53 (0.88).
  Harness prop("nexus", {{}, {}}, {spec(20, 3000), spec(40, 6000)}, {{"adapt_rates", false}, {"duty_cycle_ms", 10}});
  EXPECT_EQ(only_batch(prop.policy->decide(prop.view(0, {100, 100}))), 27);
  EXPECT_EQ(only_batch(prop.policy->decide(prop.view(0.005, {100, 100}))), 53);
  // The SLO caps a batch: D + T(b) <= 20 ms with T = 1 ms + 1 ms·b -> b <= 9.
  Harness slow("nexus", {{1e-3, 1e-3, 32}}, {spec(20, 5000)}, {{"adapt_rates", false}, {"duty_cycle_ms", 10}});
  EXPECT_EQ(only_batch(slow.policy->decide(slow.view(0, {100}))), 9);
}

TEST(NexusPolicy, SquishyCycleServesMoreThanHalfTheTightestSlo) {
  // T = 1 ms + 0.1 ms·b. SLOs 10 and 40 ms, 20000 and 5000 rps. At D = min SLO / 2 = 5 ms the runs
  // must fit 2 + 0.1(a + b) <= 5 ms: 30 requests per 5 ms, 6000 rps. A longer D fits more per cycle
  // but caps a by D + 1 + 0.1a <= 10: the best, D = 7.33 ms, serves 53 per cycle, 7270 rps.
  Harness s("nexus", {{}, {}}, {spec(10, 20000), spec(40, 5000)}, {{"adapt_rates", false}});
  const int64_t a = only_batch(s.policy->decide(s.view(0, {500, 500})));
  const double ta = 1e-3 + 1e-4 * static_cast<double>(a);
  const Decision second = s.policy->decide(s.view(ta, {500, 500}));
  ASSERT_EQ(second.dispatches.size(), 1u);
  const int64_t b = second.dispatches[0].batch;
  const double cycle = ta + 1e-3 + 1e-4 * static_cast<double>(b);
  const Decision wait = s.policy->decide(s.view(cycle, {500, 500}));
  ASSERT_TRUE(wait.dispatches.empty());
  ASSERT_TRUE(wait.wake_at_s.has_value());
  const double d = *wait.wake_at_s;  // the next cycle starts D after this one
  EXPECT_GT(d, 0.005 + 1e-9);
  EXPECT_LE(cycle, d + 1e-9) << "the runs fit the cycle";
  EXPECT_LE(d + ta, 0.010 + 1e-9) << "model 0's wait plus run stays within its SLO";
  EXPECT_GT(static_cast<double>(a + b) / d, 6000 * 1.15) << "a = " << a << ", b = " << b << ", D = " << d;
}

// --- Ideal ------------------------------------------------------------------------------------------

TEST(IdealPolicy, PerKernelDispatchOfEveryModelOnTheWholeGpu) {
  Harness s("ideal", {{}, {}}, {spec(20, 1000), spec(40, 500)});
  EXPECT_EQ(s.started.sms, (std::vector<int>{132}));
  const Decision d = s.policy->decide(s.view(0, {100, 100}));
  ASSERT_EQ(d.dispatches.size(), 2u);
  for (int m = 0; m < 2; ++m) {
    const auto& x = d.dispatches[static_cast<std::size_t>(m)];
    EXPECT_EQ(x.model, m);
    EXPECT_EQ(x.partition, 0);
    EXPECT_EQ(x.dispatch, DispatchMode::per_kernel);
    analysis::BatchProblem p{.slo_s = s.ctx.models[static_cast<std::size_t>(m)].slo_s,
                             .rate_rps = s.ctx.models[static_cast<std::size_t>(m)].rate_rps,
                             .cycle_s = std::nullopt,
                             .max_batch = 64,
                             .sms = {132}};
    EXPECT_EQ(x.batch, s.oracle.choose_batch(m, p).batch);
  }
}

TEST(IdealPolicy, DropsWhatABatchStartedNowWouldFinishLate) {
  Harness s("ideal", {{}, {}}, {spec(20, 1000), spec(40, 500)});
  // 19.9 ms after the requests arrived, model 0 (20 ms SLO) cannot finish any batch in time; model 1
  // (40 ms) can, and runs.
  const Decision d = s.policy->decide(s.view(0.0199, {100, 100}, 0.0));
  ASSERT_EQ(d.drops.size(), 1u);
  EXPECT_EQ(d.drops[0], (std::pair<int, int64_t>{0, 100}));
  ASSERT_EQ(d.dispatches.size(), 1u);
  EXPECT_EQ(d.dispatches[0].model, 1);
}

}  // namespace
}  // namespace dstack::sched
