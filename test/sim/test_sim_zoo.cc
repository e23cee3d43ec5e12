// Every zoo model on the simulator: it runs at any batch and partition, latency never grows with
// more SMs, the fast mode agrees with the thread-block mode within the stated bound, and results are
// byte-identical run to run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>

#include "models/zoo.h"
#include "runtime/sim/cost_model.h"
#include "runtime/sim/device_spec.h"
#include "runtime/sim/sim_backend.h"
#include "runtime/sim/simulate.h"
#include "sim_test_util.h"

namespace dstack::sim {
namespace {

using test::h100;

// The fast mode's documented agreement with the thread-block mode (README, Simulator): relative
// latency difference of one batch alone (every zoo model at the points below) and of every run when
// models share the GPU through disjoint partitions (measured: below 0.01%).
constexpr double kBlockFastBound = 0.01;
// Streams sharing SMs without partitions (Triton/MPS-like), batches 1 to 16: the fast mode places
// each wave on the SMs block mode's scheduler picks, but a wave's blocks finish together at its
// busiest SM's pace where block mode frees each SM as its blocks finish. Measured: mean per-run
// difference 0.1% (batch 1) to 6.9% (batch 16), 1.9% at batch 4; worst single run 49% (a
// mobilenet_v2 batch 16 beside big models; 5.6% at batch 4).
constexpr double kSharedSmMeanBound = 0.10;
constexpr double kSharedSmWorstBound = 0.60;


const models::Graph& graph(const std::string& name) {
  static std::map<std::string, std::unique_ptr<models::Model>> cache;
  auto& m = cache[name];
  if (!m) m = std::make_unique<models::Model>(models::build_zoo_model(name, models::BuildOptions{.weights = false}));
  return m->graph;
}

std::vector<std::string> zoo_names() {
  std::vector<std::string> names;
  for (const auto& e : models::zoo()) names.push_back(e.name);
  return names;
}

double latency(const std::string& model, int64_t batch, int sms, SimMode mode,
               kernels::Precision p = kernels::Precision::F32) {
  static const RooflineCostModel roofline;
  return simulate_batch(graph(model), model, batch, p, h100(), sms, mode, DispatchMode::graph, roofline).latency_s;
}

class ZooModel : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Sim, ZooModel, ::testing::ValuesIn(zoo_names()),
                         [](const auto& p) { return p.param; });

TEST_P(ZooModel, SimulatesAtBatch1And32On8SmsAndTheWholeGpu) {
  for (int64_t batch : {1, 32})
    for (int sms : {8, 132}) {
      const double t = latency(GetParam(), batch, sms, SimMode::fast);
      EXPECT_GT(t, 0) << batch << " " << sms;
      EXPECT_LT(t, 10.0) << batch << " " << sms;  // seconds: anything near this is a bug
    }
  // The whole GPU is faster than 8 SMs at batch 32.
  EXPECT_LT(latency(GetParam(), 32, 132, SimMode::fast), latency(GetParam(), 32, 8, SimMode::fast));
}

// Non-strictly: beyond the knee, wave quantization of DRAM-bound kernels may add a short tail wave
// that is not bandwidth-capped (a few microseconds); kLatencyNoise bounds that.
constexpr double kLatencyNoise = 0.005;

TEST_P(ZooModel, LatencyNeverGrowsWithMoreSms) {
  for (SimMode mode : {SimMode::fast, SimMode::block})
    for (int64_t batch : {1, 8}) {
      double best = INFINITY;
      for (int sms : h100().granularity().partition_sizes) {
        if (mode == SimMode::block && sms % 32 != 0 && sms != 132) continue;  // a few sizes: block mode is slower
        const double t = latency(GetParam(), batch, sms, mode);
        EXPECT_LE(t, best * (1 + kLatencyNoise)) << sim_mode_name(mode) << ", batch " << batch << ", " << sms << " SMs";
        best = std::min(best, t);
      }
    }
}

TEST_P(ZooModel, FastModeAgreesWithBlockMode) {
  for (auto [batch, sms] : std::vector<std::pair<int64_t, int>>{{1, 8}, {1, 132}, {4, 32}}) {
    const double block = latency(GetParam(), batch, sms, SimMode::block);
    const double fast = latency(GetParam(), batch, sms, SimMode::fast);
    const double err = std::abs(fast - block) / block;
    EXPECT_LE(err, kBlockFastBound) << "batch " << batch << " on " << sms << " SMs: block " << block * 1e3
                                    << " ms, fast " << fast * 1e3 << " ms";
    std::printf("%s batch %lld on %d SMs: fast-vs-block %.4f%%\n", GetParam().c_str(), static_cast<long long>(batch),
                sms, 100 * err);
  }
}

// Four models at once, batch after batch, either in four partitions (D-STACK-like) or all on the
// whole GPU (Triton/MPS-like): each run's latency in fast mode against block mode.
std::vector<double> concurrent_latencies(SimMode mode, bool partitioned, int64_t batch) {
  SimBackend b(h100(), mode);
  const std::vector<std::string> ms = {"resnet50", "mobilenet_v2", "vgg16", "bert_base"};
  for (const auto& m : ms)
    b.add_model(m, std::shared_ptr<const models::Graph>(&graph(m), [](const models::Graph*) {}));
  if (partitioned) b.set_layout(PartitionLayout{{32, 32, 32, 24}});
  b.run_until(0.01);  // partitions created
  for (int i = 0; i < 4; ++i)
    b.submit(RunRequest{.model = ms[i], .batch = batch, .partition = partitioned ? i : 0, .tag = uint64_t(100 * i)});
  // Tag: model * 100 + the model's run number; three runs per model.
  std::map<uint64_t, double> lat;
  while (auto c = b.run_until(INFINITY)) {
    lat[c->request.tag] = c->finished_s - c->submitted_s;
    if (c->request.tag % 100 < 2)
      b.submit(RunRequest{.model = c->request.model, .batch = batch, .partition = c->request.partition,
                          .tag = c->request.tag + 1});
  }
  std::vector<double> v;
  for (const auto& [tag, t] : lat) v.push_back(t);
  return v;
}

TEST(SimZoo, FastModeAgreesWithBlockModeUnderConcurrency) {
  for (bool partitioned : {true, false})
    for (int64_t batch : {1, 4, 8, 16}) {
      const auto block = concurrent_latencies(SimMode::block, partitioned, batch);
      const auto fast = concurrent_latencies(SimMode::fast, partitioned, batch);
      ASSERT_EQ(block.size(), 12u);
      ASSERT_EQ(fast.size(), 12u);
      double worst = 0, mean = 0;
      for (std::size_t i = 0; i < block.size(); ++i) mean += std::abs(fast[i] - block[i]) / block[i] / static_cast<double>(block.size());
      for (std::size_t i = 0; i < block.size(); ++i) {
        worst = std::max(worst, std::abs(fast[i] - block[i]) / block[i]);
        if (std::getenv("DSTACK_SIM_DEBUG")) std::printf("  run %zu: block %.4f ms fast %.4f ms\n", i, block[i] * 1e3, fast[i] * 1e3);
      }
      std::printf("batch %d concurrent %s: fast-vs-block latency difference: worst run %.2f%%, mean %.2f%%\n",
                  static_cast<int>(batch), partitioned ? "in 4 partitions" : "on the whole GPU", 100 * worst, 100 * mean);
      if (partitioned) {
        EXPECT_LE(worst, kBlockFastBound) << "batch " << batch;
      } else {
        EXPECT_LE(mean, kSharedSmMeanBound) << "batch " << batch;
        EXPECT_LE(worst, kSharedSmWorstBound) << "batch " << batch;
      }
    }
}

// Replay (Engine::set_replay) must not change results: four models batch after batch, in
// partitions and on the whole GPU, graph and per-kernel dispatch, with replay on and off give the
// same completions in the same order at the same instants (within 1e-9 relative: the cached
// timeline is shifted to each run's start and slowed by the same bandwidth rule segment by segment,
// which rounds differently), plus 50 ns: with the real sm_90 registers, per-kernel dispatch at
// batch 8 in partitions shifts one run's completion by 26 ns and its successors with it (a known
// discrepancy, not yet explained; graph dispatch and the CUDA-less build agree within 1e-9).
struct Completion {
  uint64_t tag;
  double started, finished;
};
std::vector<Completion> serve(bool replay, bool partitioned, int64_t batch, DispatchMode dispatch, int runs_per_model,
                              uint64_t* replayed = nullptr, uint64_t* materialized = nullptr,
                              double* occupied = nullptr) {
  SimBackend b(h100(), SimMode::fast);
  b.set_replay(replay);
  const std::vector<std::string> ms = {"resnet50", "mobilenet_v2", "vgg16", "bert_base"};
  for (const auto& m : ms)
    b.add_model(m, std::shared_ptr<const models::Graph>(&graph(m), [](const models::Graph*) {}));
  if (partitioned) b.set_layout(PartitionLayout{{32, 32, 32, 24}});
  b.run_until(0.01);
  for (int i = 0; i < 4; ++i)
    b.submit(RunRequest{.model = ms[i], .batch = batch, .partition = partitioned ? i : 0, .dispatch = dispatch,
                        .tag = uint64_t(1000 * i)});
  std::vector<Completion> out;
  while (auto c = b.run_until(INFINITY)) {
    out.push_back(Completion{c->request.tag, c->started_s, c->finished_s});
    if (static_cast<int>(c->request.tag % 1000) < runs_per_model - 1)
      b.submit(RunRequest{.model = c->request.model, .batch = batch, .partition = c->request.partition,
                          .dispatch = dispatch, .tag = c->request.tag + 1});
  }
  if (replayed) *replayed = b.replayed_runs();
  if (materialized) *materialized = b.materialized_runs();
  if (occupied) *occupied = *b.occupied_sm_seconds();
  return out;
}

TEST(SimZoo, ReplayGivesTheSameCompletionsAsEvents) {
  for (bool partitioned : {true, false})
    for (int64_t batch : {1, 8})
      for (DispatchMode dispatch : {DispatchMode::graph, DispatchMode::per_kernel}) {
        uint64_t replayed = 0, materialized = 0;
        const auto on = serve(true, partitioned, batch, dispatch, 6, &replayed, &materialized);
        const auto off = serve(false, partitioned, batch, dispatch, 6);
        const std::string what = std::string(partitioned ? "4 partitions" : "whole GPU") + ", batch " +
                                 std::to_string(batch) + ", " + dispatch_mode_name(dispatch);
        ASSERT_EQ(on.size(), 24u) << what;
        ASSERT_EQ(off.size(), 24u) << what;
        for (std::size_t i = 0; i < on.size(); ++i) {
          EXPECT_EQ(on[i].tag, off[i].tag) << what << ", completion " << i;
          EXPECT_NEAR(on[i].finished, off[i].finished, 1e-9 * off[i].finished + 50e-9) << what << ", run " << off[i].tag;
          EXPECT_NEAR(on[i].started, off[i].started, 1e-9 * off[i].started + 50e-9) << what << ", run " << off[i].tag;
        }
        std::printf("replay vs events, %s: %llu runs replayed, %llu fell back to events\n", what.c_str(),
                    static_cast<unsigned long long>(replayed), static_cast<unsigned long long>(materialized));
        if (partitioned) {
          // Alone in their partitions, every run is replayed from start to end: contention for DRAM
          // between partitions slows replayed runs (fluid replay) rather than making them fall back.
          EXPECT_EQ(replayed, 24u) << what;
          if (dispatch == DispatchMode::graph) {
            EXPECT_EQ(materialized, 0u) << what;
          }
        } else {
          EXPECT_GT(materialized, 0u) << what;  // a run joining a replayed run's pool
        }
      }
}

// The same runs' occupied SM-seconds, replayed (alone in partitions, slowed by DRAM contention;
// on the whole GPU, falling back to events when runs share it) or simulated by events, agree within
// 1e-9 of the total plus 132 SMs x 50 ns (the known completion shift above).
TEST(SimZoo, ReplayGivesTheSameOccupiedSmSecondsAsEvents) {
  for (bool partitioned : {true, false})
    for (int64_t batch : {1, 8}) {
      double on = 0, off = 0;
      serve(true, partitioned, batch, DispatchMode::graph, 6, nullptr, nullptr, &on);
      serve(false, partitioned, batch, DispatchMode::graph, 6, nullptr, nullptr, &off);
      const std::string what = std::string(partitioned ? "4 partitions" : "whole GPU") + ", batch " +
                               std::to_string(batch);
      ASSERT_GT(off, 0) << what;
      EXPECT_NEAR(on, off, 1e-9 * off + 132 * 50e-9) << what;
      std::printf("occupied SM-seconds, %s: replay %.9g, events %.9g (relative difference %.2g)\n", what.c_str(), on,
                  off, (on - off) / off);
    }
}

TEST(SimZoo, ReplayIsDeterministic) {
  const auto a = serve(true, true, 8, DispatchMode::graph, 4), b = serve(true, true, 8, DispatchMode::graph, 4);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].tag, b[i].tag);
    EXPECT_EQ(a[i].finished, b[i].finished);  // bit-identical
  }
}

TEST(SimZoo, HalfPrecisionUsesTensorCoresAndIsFaster) {
  const double f32 = latency("resnet50", 32, 132, SimMode::fast);
  const double f16 = latency("resnet50", 32, 132, SimMode::fast, kernels::Precision::F16);
  EXPECT_LT(f16, f32);
}

TEST(SimZoo, JsonIsByteIdenticalRunToRun) {
  const RooflineCostModel roofline;
  for (SimMode mode : {SimMode::fast, SimMode::block}) {
    auto once = [&] {
      return batch_simulation_json(simulate_batch(graph("inception_v3"), "inception_v3", 2, kernels::Precision::F32,
                                                  h100(), 24, mode, DispatchMode::per_kernel, roofline),
                                   "test")
          .dump(2);
    };
    const std::string a = once(), b = once();
    EXPECT_EQ(a, b);
    EXPECT_NE(a.find("\"simulated\": true"), std::string::npos);
    EXPECT_NE(a.find("\"device\": \"h100_sxm\""), std::string::npos);
  }
}

}  // namespace
}  // namespace dstack::sim
