// The parallelism model on synthetic plans whose answers are computed by hand, and its properties on
// the zoo: latency never increases with SMs; the knee does not fall with batch (beyond one
// partition size, see KneeGrowsWithBatchOnTheZoo).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "../sim/sim_test_util.h"
#include "models/plan.h"
#include "models/zoo.h"
#include "runtime/analysis/parallelism_model.h"

namespace dstack::analysis {
namespace {

using sim::test::KernelShape;
using sim::test::make_kernel;

const sim::DeviceSpec& h100() {
  static const sim::DeviceSpec d = sim::load_device("h100_sxm");
  return d;
}

sim::SimPlan plan_of(std::vector<sim::SimKernel> kernels) { return *sim::test::make_plan(std::move(kernels)); }

// 256 threads: 8 blocks per SM by threads (2048 per SM), 8 warps each.
KernelShape compute(int64_t blocks, double flops = 1e6) {
  return KernelShape{.blocks = blocks, .threads = 256, .registers = 32, .flops_per_block = flops};
}

TEST(Knee, SmallestSmsWithinEpsilonOfTheLast) {
  const LatencyCurve c = {{8, 10.0}, {16, 6.0}, {24, 5.2}, {32, 5.0}};
  EXPECT_EQ(knee_of(c, 0.05), 24);  // 5.2 <= 5.25
  EXPECT_EQ(knee_of(c, 0.03), 32);  // 5.2 > 5.15
  EXPECT_EQ(knee_of(c, 0.0), 32);
  EXPECT_EQ(knee_of(c, 0.9), 16);   // 6 <= 9.5 < 10
  EXPECT_EQ(knee_of(c, 1.0), 8);    // 10 <= 10: the bound is inclusive
  EXPECT_EQ(knee_of({{8, 1.0}}, 0.05), 8);
}

TEST(Knee, RejectsMalformedCurves) {
  EXPECT_THROW(knee_of({}, 0.05), std::invalid_argument);
  EXPECT_THROW(knee_of({{16, 1.0}, {8, 2.0}}, 0.05), std::invalid_argument);
  EXPECT_THROW(knee_of({{8, 0.0}, {16, 1.0}}, 0.05), std::invalid_argument);
  EXPECT_THROW(knee_of({{8, 1.0}}, -0.1), std::invalid_argument);
}

TEST(ParallelismModel, WavesTailAndUsableSmsByHand) {
  const auto& d = h100();
  const double peak = d.fp32_flops_per_sm();
  const double lat = d.model.block_latency_us * 1e-6;
  // 16 SMs hold 128 blocks per wave: 261 blocks are 2 full waves and a tail of 5 (one per SM).
  const sim::SimPlan p = plan_of({make_kernel(d, compute(261))});
  const ParallelismModel m(p, d);
  const KernelEstimate k = m.estimate(16).kernels.at(0);
  EXPECT_EQ(k.blocks_per_sm, 8);
  EXPECT_EQ(k.waves, 3);
  EXPECT_EQ(k.usable_sms, 33);  // ceil(261 / 8)
  // Full wave: 8 blocks x 64 warps (saturated) share the SM: lat + 8 MFLOP / peak. Tail: one block of
  // 8 warps reaches half the peak (16 warps saturate): lat + 1 MFLOP / (peak / 2).
  const double full = lat + 8e6 / peak;
  const double tail = lat + 1e6 / (peak * 8.0 / d.model.warps_to_saturate_sm);
  EXPECT_NEAR(k.compute_s, 2 * full + tail, 1e-12);
  EXPECT_EQ(k.memory_s, 0.0);
  EXPECT_NEAR(k.time_s, k.compute_s + d.timing.graph_kernel_gap_us * 1e-6, 1e-12);
  EXPECT_NEAR(m.latency_s(16), d.timing.graph_launch_us * 1e-6 + k.time_s, 1e-12);
}

TEST(ParallelismModel, MemoryTermSaturatesBeforeTheWholeGpu) {
  const auto& d = h100();
  const double bytes = 64.0 * 1024 * 1024;  // 1024 blocks of 64 KiB
  const sim::SimPlan p = plan_of({make_kernel(d, {.blocks = 1024, .threads = 256, .bytes_per_block = bytes / 1024})});
  const ParallelismModel m(p, d);
  // 8 SMs draw 8 x the per-SM bandwidth; the whole GPU is capped by the device's DRAM.
  EXPECT_NEAR(m.estimate(8).kernels[0].memory_s, bytes / (8 * d.sm_dram_bytes_per_s()), 1e-12);
  EXPECT_NEAR(m.estimate(132).kernels[0].memory_s, bytes / d.dram_bytes_per_s(), 1e-12);
  EXPECT_TRUE(m.estimate(8).kernels[0].memory_bound());
  // Past the SMs that saturate DRAM, more SMs do not help a memory-bound kernel.
  const int saturating = static_cast<int>(std::ceil(d.dram_bytes_per_s() / d.sm_dram_bytes_per_s()));
  EXPECT_NEAR(m.estimate(saturating).kernels[0].memory_s, m.estimate(132).kernels[0].memory_s, 1e-12);
}

TEST(ParallelismModel, PerKernelDispatchPaysTheLaunchWhenKernelsAreShort) {
  const auto& d = h100();
  const sim::SimPlan p = plan_of({make_kernel(d, compute(1, 1.0)), make_kernel(d, compute(1, 1.0))});
  const ParallelismModel m(p, d, {.epsilon = 0.05, .dispatch = DispatchMode::per_kernel});
  const double launch = d.timing.launch_overhead_us * 1e-6;
  for (const auto& k : m.estimate(8).kernels) EXPECT_GE(k.time_s, launch);
  EXPECT_NEAR(m.latency_s(8), 2 * std::max(launch, m.estimate(8).kernels[0].compute_s + d.timing.kernel_gap_us * 1e-6),
              1e-12);
}

TEST(ParallelismModel, KneeOfAKernelThatFillsEightSmsIsEight) {
  const auto& d = h100();
  // 64 blocks at 8 per SM use 8 SMs; more SMs only spread them thinner (each faster, but the latency
  // floor is the block latency plus a block's work at its SM's share).
  const sim::SimPlan p = plan_of({make_kernel(d, compute(64, 1e3))});
  const ParallelismModel m(p, d);
  EXPECT_EQ(m.estimate(132).kernels[0].usable_sms, 8);
  EXPECT_EQ(m.knee_sms(), 8);
  EXPECT_EQ(m.curve().size(), d.granularity().partition_sizes.size());
}

TEST(ParallelismModel, UsableParallelismIsTheRuntimeWeightedMean) {
  const auto& d = h100();
  // A kernel that can use 8 SMs and one that can use all 132, equally long on the whole GPU.
  const sim::SimPlan p = plan_of({make_kernel(d, compute(64, 1e6)), make_kernel(d, compute(132 * 8, 1e6))});
  const ParallelismModel m(p, d);
  const auto e = m.estimate(132);
  const double t0 = e.kernels[0].time_s, t1 = e.kernels[1].time_s;
  EXPECT_NEAR(m.usable_parallelism(), (8 * t0 + 132 * t1) / (t0 + t1), 1e-9);
}

TEST(ParallelismModel, RejectsSmsOutsideTheDevice) {
  const auto& d = h100();
  const sim::SimPlan p = plan_of({make_kernel(d, compute(8))});
  const ParallelismModel m(p, d);
  EXPECT_THROW(m.estimate(0), std::invalid_argument);
  EXPECT_THROW(m.estimate(133), std::invalid_argument);
  EXPECT_THROW(ParallelismModel(p, d, {.epsilon = -1}), std::invalid_argument);
}

std::shared_ptr<const sim::SimPlan> zoo_plan(const std::string& name, int64_t batch) {
  static std::map<std::string, models::Model> graphs;
  auto it = graphs.find(name);
  if (it == graphs.end())
    it = graphs.emplace(name, models::build_zoo_model(name, models::BuildOptions{.weights = false})).first;
  models::Plan plan = models::lower(it->second.graph, batch, kernels::Precision::F32);
  plan.model = name;
  return std::make_shared<const sim::SimPlan>(sim::prepare_plan(plan, h100(), sim::RooflineCostModel{}));
}

TEST(ParallelismModel, LatencyNeverIncreasesWithSmsOnTheZoo) {
  for (const auto& entry : models::zoo())
    for (int64_t batch : {1, 8, 32}) {
      const auto plan = zoo_plan(entry.name, batch);
      const ParallelismModel m(*plan, h100());
      double prev = INFINITY;
      for (int s = 1; s <= h100().sm_count; ++s) {
        const double t = m.latency_s(s);
        EXPECT_LE(t, prev * (1 + 1e-12)) << entry.name << " batch " << batch << " at " << s << " SMs";
        prev = t;
      }
    }
}

// More work per kernel never needs fewer SMs: the usable parallelism does not fall as the batch
// doubles (by more than 1%: once nearly every kernel fills the GPU, the runtime weights shift a
// little, e.g. resnext50_32x4d 131.18 -> 131.15 SMs from batch 32 to 64). The knee follows, except where wave quantization meets the knee's 5% threshold near
// the top sizes: bert_base's knee is 132 SMs at batch 8 (120 SMs are 9% slower: one more wave) and
// 112 at batch 16 (4.8% slower), so the knee may fall, but by no more than 20 SMs.
TEST(ParallelismModel, KneeGrowsWithBatchOnTheZoo) {
  for (const auto& entry : models::zoo()) {
    int max_knee = 0;
    double prev_usable = 0;
    for (int64_t batch = 1; batch <= 64; batch *= 2) {
      const auto plan = zoo_plan(entry.name, batch);
      const ParallelismModel m(*plan, h100());
      const int knee = m.knee_sms();
      EXPECT_GE(knee, max_knee - 20) << entry.name << ": knee " << knee << " at batch " << batch;
      EXPECT_GE(m.usable_parallelism(), prev_usable * 0.99) << entry.name << " at batch " << batch;
      max_knee = std::max(max_knee, knee);
      prev_usable = m.usable_parallelism();
    }
  }
}

}  // namespace
}  // namespace dstack::analysis
