// The discrete-event engine on synthetic kernels: waves and tail effects, partition isolation, DRAM
// bandwidth sharing, launch overheads, in both granularities.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "runtime/sim/bandwidth.h"
#include "runtime/sim/cost_model.h"
#include "runtime/sim/engine.h"
#include "sim_test_util.h"

namespace dstack::sim {
namespace {

using test::compute_kernel;
using test::h100;
using test::kernel_time;
using test::KernelShape;
using test::make_kernel;
using test::make_plan;
using test::sm_range;


using test::BothModes;
INSTANTIATE_TEST_SUITE_P(Sim, BothModes, ::testing::Values(SimMode::block, SimMode::fast),
                         [](const auto& p) { return std::string(sim_mode_name(p.param)); });


TEST_P(BothModes, OneMoreBlockThanFullWavesTakesOneMoreWave) {
  const auto& d = h100();
  const int sms = 16;
  for (int k : {1, 3}) {
    const int64_t full = 2LL * sms * 8 * k;  // 2*S*k waves' worth of blocks at 8 blocks per SM... 2k waves
    KernelTiming a, b;
    const double t_full = kernel_time(d, GetParam(), make_plan({make_kernel(d, compute_kernel(full))}), sms, &a);
    const double t_plus = kernel_time(d, GetParam(), make_plan({make_kernel(d, compute_kernel(full + 1))}), sms, &b);
    EXPECT_EQ(a.waves, 2 * k);
    EXPECT_EQ(b.waves, 2 * k + 1);
    EXPECT_GT(t_plus, t_full);
    // The tail block runs alone on its SM, with the SM's whole rate for its 8 warps (half the
    // warps it takes to saturate an SM): a quarter of a full wave's block time, plus the latency.
    const double wave = t_full / (2 * k);
    const double lat = d.model.block_latency_us * 1e-6;
    EXPECT_NEAR(t_plus - t_full, lat + (wave - lat) / 4, 1e-9);
    EXPECT_EQ(b.sms_used, sms);
  }
}

TEST_P(BothModes, WavesFollowOccupancy) {
  const auto& d = h100();
  // 8 blocks per SM: 16 SMs take 128 blocks per wave; 129..256 blocks take two waves.
  for (int64_t blocks : {1, 128, 129, 256, 257}) {
    KernelTiming t;
    kernel_time(d, GetParam(), make_plan({make_kernel(d, compute_kernel(blocks))}), 16, &t);
    EXPECT_EQ(t.waves, (blocks + 127) / 128) << blocks;
    EXPECT_EQ(t.sms_used, std::min<int64_t>(blocks, 16)) << blocks;
  }
}

TEST_P(BothModes, FewerSmsNeverFaster) {
  const auto& d = h100();
  double prev = 1e30;
  for (int sms = 8; sms <= 132; sms += 8) {
    const double t = kernel_time(d, GetParam(), make_plan({make_kernel(d, compute_kernel(1000))}), sms);
    EXPECT_LE(t, prev * (1 + 1e-12)) << sms;
    prev = t;
  }
}

TEST(SimEngine, FastModeAloneMatchesTheStandaloneFormula) {
  const auto& d = h100();
  for (const KernelShape& s : {compute_kernel(1001), KernelShape{.blocks = 5000, .threads = 128, .bytes_per_block = 1e5},
                               KernelShape{.blocks = 77, .threads = 64, .flops_per_block = 1e5, .bytes_per_block = 1e4}}) {
    const SimKernel k = make_kernel(d, s);
    for (int sms : {8, 40, 132}) {
      const double t = kernel_time(d, SimMode::fast, make_plan({k}), sms);
      const double expect = standalone_launch_time(k.work, k.blocks, k.warps, k.occupancy.blocks_per_sm, sms, d);
      EXPECT_NEAR(t, expect, 1e-12 + 1e-9 * expect) << s.blocks << " blocks on " << sms;
    }
  }
}

// Two runs started together on pools A (SMs 0..63) and B (64..127); returns B's kernel time.
double time_in_b(SimMode mode, const SimKernel& ka, const SimKernel& kb, bool with_a) {
  const auto& d = h100();
  Engine e(d, mode);
  const int a = e.add_pool(sm_range(0, 64));
  const int b = e.add_pool(sm_range(64, 64));
  if (with_a) e.start_run(make_plan({ka}), a, DispatchMode::graph, 0.0, true);
  const int rb = e.start_run(make_plan({kb}), b, DispatchMode::graph, 0.0, true);
  std::optional<RunTiming> tb;
  while (auto id = e.run_until()) {
    RunTiming t = e.take_result(*id);
    if (*id == rb) tb = t;
  }
  return tb->kernels.at(0).end_s - tb->kernels.at(0).start_s;
}

TEST_P(BothModes, DisjointPartitionsDoNotInterfereWithoutDramPressure) {
  const auto& d = h100();
  // Bandwidth-light kernels: B's time is identical with or without A running.
  const SimKernel ka = make_kernel(d, compute_kernel(5000));
  const SimKernel kb = make_kernel(d, KernelShape{.blocks = 3000, .threads = 128, .flops_per_block = 2e6,
                                                  .bytes_per_block = 1000});
  EXPECT_EQ(time_in_b(GetParam(), ka, kb, true), time_in_b(GetParam(), ka, kb, false));
}

TEST_P(BothModes, DisjointPartitionsShareDramBandwidth) {
  const auto& d = h100();
  // Memory-bound kernels: 64 SMs at 100 GB/s each ask 6.4 TB/s, more than the 3.35 TB/s the device
  // has, so each alone is DRAM-bound; together each gets half: about twice the time.
  const SimKernel k = make_kernel(d, KernelShape{.blocks = 20000, .threads = 256, .bytes_per_block = 1e6});
  const double alone = time_in_b(GetParam(), k, k, false);
  const double shared = time_in_b(GetParam(), k, k, true);
  EXPECT_NEAR(shared / alone, 2.0, 0.05) << alone << " vs " << shared;
  // Alone it moves its bytes at the device's bandwidth.
  EXPECT_NEAR(alone, 20000 * 1e6 / d.dram_bytes_per_s(), 0.02 * alone);
}

TEST_P(BothModes, ComputeBoundKernelBesideAMemoryBoundOneKeepsItsSpeed) {
  const auto& d = h100();
  const SimKernel mem = make_kernel(d, KernelShape{.blocks = 20000, .threads = 256, .bytes_per_block = 1e6});
  const SimKernel cmp = make_kernel(d, KernelShape{.blocks = 3000, .threads = 256, .flops_per_block = 1e7,
                                                   .bytes_per_block = 100});
  // Max-min sharing: the light kernel's small demand is met in full.
  EXPECT_NEAR(time_in_b(GetParam(), mem, cmp, true), time_in_b(GetParam(), mem, cmp, false), 1e-9);
}

TEST_P(BothModes, StreamsWithoutPartitionsShareSms) {
  const auto& d = h100();
  // Two compute-bound kernels on one 16-SM pool from two streams take about as long as both
  // one after the other (the SMs are shared), not as long as one.
  const SimKernel k = make_kernel(d, compute_kernel(16 * 8 * 10));
  Engine e(d, GetParam());
  const int pool = e.add_pool(sm_range(0, 16));
  e.start_run(make_plan({k}), pool, DispatchMode::graph, 0.0, false);
  e.start_run(make_plan({k}), pool, DispatchMode::graph, 0.0, false);
  double last = 0;
  while (auto id = e.run_until()) last = std::max(last, e.take_result(*id).end_s);
  const double one = kernel_time(d, GetParam(), make_plan({k}), 16);
  EXPECT_NEAR(last / one, 2.0, 0.05);
}

// Streams sharing a pool without partitions: a few long blocks of one stream hold a few SMs, so
// another stream's waves fit around them (fewer blocks on those SMs, slower there). The fast mode
// places waves on the SMs block mode's scheduler picks, so the two agree.
TEST(SimEngine, FastModePlacesConcurrentWavesLikeBlockMode) {
  const auto& d = h100();
  const SimKernel few = make_kernel(d, KernelShape{.blocks = 5, .threads = 512, .flops_per_block = 4e7});
  const SimKernel many = make_kernel(d, KernelShape{.blocks = 16 * 6 + 7, .threads = 256, .flops_per_block = 2e6,
                                                    .bytes_per_block = 2e4});
  const SimKernel mem = make_kernel(d, KernelShape{.blocks = 40, .threads = 128, .bytes_per_block = 4e6});
  auto ends = [&](SimMode mode) {
    Engine e(d, mode);
    const int pool = e.add_pool(sm_range(0, 16));
    e.start_run(make_plan({few, mem}), pool, DispatchMode::graph, 0.0, false);
    e.start_run(make_plan({many, many, few}), pool, DispatchMode::graph, 1e-6, false);
    e.start_run(make_plan({mem, many}), pool, DispatchMode::per_kernel, 2e-6, false);
    std::map<int, double> out;
    while (auto id = e.run_until()) out[*id] = e.take_result(*id).end_s;
    return out;
  };
  const auto block = ends(SimMode::block), fast = ends(SimMode::fast);
  ASSERT_EQ(block.size(), 3u);
  for (const auto& [id, t] : block) {
    EXPECT_NEAR(fast.at(id), t, 0.02 * t) << "run " << id;
    std::printf("run %d: block %.3f us fast %.3f us\n", id, t * 1e6, fast.at(id) * 1e6);
  }
}

TEST_P(BothModes, GraphDispatchHasLessLaunchOverhead) {
  const auto& d = h100();
  std::vector<SimKernel> ks(20, make_kernel(d, compute_kernel(16)));
  auto plan = make_plan(ks);
  auto latency = [&](DispatchMode m) {
    Engine e(d, GetParam());
    const int run = e.start_run(plan, e.add_pool(sm_range(0, 16)), m, 0.0, false);
    e.run_until();
    return e.take_result(run).end_s;
  };
  const double graph = latency(DispatchMode::graph), per_kernel = latency(DispatchMode::per_kernel);
  EXPECT_LT(graph, per_kernel);
  // Per kernel: every kernel waits for its gap after the previous one (launches are issued faster
  // than these kernels run).
  const double one = kernel_time(d, GetParam(), make_plan({ks[0]}), 16);
  EXPECT_NEAR(graph, d.timing.graph_launch_us * 1e-6 + 20 * one + 19 * d.timing.graph_kernel_gap_us * 1e-6, 1e-9);
}

// Replay on and off: memory-bound and compute-bound runs in two pools, staggered so the replayed
// runs slow each other mid-kernel, plus runs joining a pool in flight; every kernel's timing agrees
// within 1e-9 relative.
TEST(SimEngine, ReplayMatchesEventsKernelByKernel) {
  const auto& d = h100();
  const test::ContendedPlans plans = test::contended_plans(d);
  // Named references, not a structured binding: clang 14 (the sanitizer build) cannot capture those.
  const auto& pa = plans.a;
  const auto& pb = plans.b;
  // Recorded runs fall back to events when slowed (their kernels' times are kept); unrecorded ones
  // are slowed in replay.
  auto once = [&](bool replay, bool record, uint64_t* replayed, uint64_t* materialized, uint64_t* throttled) {
    Engine e(d, SimMode::fast);
    e.set_replay(replay);
    const auto [a, b] = test::start_contended(e, plans, record);
    std::map<int, RunTiming> out;
    bool joined = false;
    while (auto id = e.run_until()) {
      out[*id] = e.take_result(*id);
      if (!joined) {  // another run joins pool b (or a) while the other pool's run is in flight
        joined = true;
        e.start_run(pa, *id == 0 ? a : b, DispatchMode::graph, e.now(), record);
        e.start_run(pb, *id == 0 ? a : b, DispatchMode::graph, e.now() + 11e-6, record);
      }
    }
    *replayed = e.replayed_runs();
    *materialized = e.materialized_runs();
    *throttled = e.throttled_runs();
    return out;
  };
  uint64_t r1 = 0, m1 = 0, t1 = 0, r0 = 0, m0 = 0, t0 = 0;
  const auto on = once(true, true, &r1, &m1, &t1), off = once(false, true, &r0, &m0, &t0);
  EXPECT_GT(r1, 0u);
  EXPECT_GT(m1, 0u);
  EXPECT_EQ(r0, 0u);
  // Unrecorded: replayed runs slowed by the other pool's (fluid replay) end when events say.
  uint64_t r2 = 0, m2 = 0, t2 = 0;
  const auto fluid = once(true, false, &r2, &m2, &t2);
  EXPECT_GT(t2, 0u);
  ASSERT_EQ(fluid.size(), off.size());
  for (const auto& [id, t] : off) {
    EXPECT_NEAR(fluid.at(id).start_s, t.start_s, 1e-9 * t.start_s) << id;
    EXPECT_NEAR(fluid.at(id).end_s, t.end_s, 1e-9 * t.end_s) << id;
  }
  ASSERT_EQ(on.size(), off.size());
  for (const auto& [id, t] : off) {
    const RunTiming& u = on.at(id);
    EXPECT_NEAR(u.start_s, t.start_s, 1e-9 * t.start_s) << id;
    EXPECT_NEAR(u.end_s, t.end_s, 1e-9 * t.end_s) << id;
    ASSERT_EQ(u.kernels.size(), t.kernels.size()) << id;
    for (std::size_t i = 0; i < t.kernels.size(); ++i) {
      EXPECT_EQ(u.kernels[i].kernel, t.kernels[i].kernel);
      EXPECT_NEAR(u.kernels[i].start_s, t.kernels[i].start_s, 1e-9 * t.kernels[i].start_s) << id << " " << i;
      EXPECT_NEAR(u.kernels[i].end_s, t.kernels[i].end_s, 1e-9 * t.kernels[i].end_s) << id << " " << i;
      EXPECT_EQ(u.kernels[i].waves, t.kernels[i].waves) << id << " " << i;
    }
  }
  Engine busy(d, SimMode::fast);
  busy.start_run(pa, busy.add_pool(sm_range(0, 8)), DispatchMode::graph, 0.0, false);
  EXPECT_THROW(busy.set_replay(false), std::logic_error);
}

TEST(SimEngine, PoolsMustBeDisjoint) {
  Engine e(h100(), SimMode::fast);
  e.add_pool(sm_range(0, 8));
  EXPECT_THROW(e.add_pool(sm_range(4, 8)), std::invalid_argument);
  EXPECT_THROW(e.add_pool(sm_range(130, 8)), std::invalid_argument);
  EXPECT_THROW(e.start_run(make_plan({}), 3, DispatchMode::graph, 0, false), std::invalid_argument);
}

TEST(SimEngine, RunUntilStopsTheClock) {
  const auto& d = h100();
  Engine e(d, SimMode::fast);
  e.start_run(make_plan({make_kernel(d, compute_kernel(100000))}), e.add_pool(sm_range(0, 8)), DispatchMode::graph,
              0.0, false);
  EXPECT_FALSE(e.run_until(1e-4).has_value());
  EXPECT_DOUBLE_EQ(e.now(), 1e-4);
  EXPECT_FALSE(e.idle());
  EXPECT_TRUE(e.run_until().has_value());
  EXPECT_GT(e.now(), 1e-4);
  EXPECT_TRUE(e.idle());
}

TEST(SimBandwidth, MaxMinFairByWeight) {
  std::vector<double> factor;
  std::vector<int> order;
  share_bandwidth({1, 2}, {1, 1}, 10, factor, order);
  EXPECT_EQ(factor, (std::vector<double>{1, 1}));
  share_bandwidth({10, 10}, {1, 1}, 10, factor, order);
  EXPECT_DOUBLE_EQ(factor[0], 0.5);
  EXPECT_DOUBLE_EQ(factor[1], 0.5);
  share_bandwidth({1, 20}, {1, 1}, 10, factor, order);  // the small one is met, the big one gets the rest
  EXPECT_DOUBLE_EQ(factor[0], 1);
  EXPECT_DOUBLE_EQ(factor[1], 9.0 / 20);
  share_bandwidth({30, 30}, {1, 2}, 9, factor, order);  // weights 1:2 -> 3 and 6
  EXPECT_DOUBLE_EQ(factor[0], 3.0 / 30);
  EXPECT_DOUBLE_EQ(factor[1], 6.0 / 30);
}

}  // namespace
}  // namespace dstack::sim
