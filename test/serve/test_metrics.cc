// Metrics on small hand-computed runs: counts, warm-up exclusion, rates, nearest-rank percentiles,
// SLO attainment, batch size, SM utilization and allocation, Jain's index, and the CSV and JSON written.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <sstream>

#include "serve_test_util.h"
#include "runtime/serve/metrics.h"

namespace dstack::serve {
namespace {

using test::error_of;

RequestRecord completed(int model, double arrival_s, double latency_ms, int64_t batch, double slo_ms) {
  const double finished = arrival_s + latency_ms / 1e3;
  return {model, arrival_s, arrival_s, finished, batch, latency_ms <= slo_ms ? Outcome::served : Outcome::late,
          RejectReason::none};
}

RequestRecord rejected(int model, double arrival_s, RejectReason reason = RejectReason::queue_full) {
  return {model, arrival_s, -1, -1, 0, Outcome::rejected, reason};
}

// Window [2, 12): 10 s. Model a (SLO 50 ms, offered 1 rps): two warm-up requests, then latencies
// 10..80 ms (10..50 served, 60..80 late) in one batch of 4 and two of 2, and 2 rejected (queue full,
// still queued at the end). Model b (SLO
// 100 ms, offered 2 rps): three served at 5 ms, batch 1.
std::vector<RequestRecord> small_run() {
  std::vector<RequestRecord> r = {completed(0, 0.5, 5, 1, 50), completed(0, 1.9, 5, 1, 50)};
  const int64_t batches[] = {4, 4, 4, 4, 2, 2, 2, 2};
  for (int i = 0; i < 8; ++i) r.push_back(completed(0, 2.0 + i, 10.0 * (i + 1), batches[i], 50));
  r.push_back(rejected(0, 10.5));
  r.push_back(rejected(0, 11.9, RejectReason::unserved));
  for (int i = 0; i < 3; ++i) r.push_back(completed(1, 3.0 + i, 5, 1, 100));
  return r;
}

const std::vector<ModelLoad> kLoads = {{"a", 50, 1.0}, {"b", 100, 2.0}};

ServeMetrics small_metrics() { return compute_metrics(small_run(), kLoads, {2, 12}, 66, 132); }

TEST(ServeMetrics, CountsPerModelAndRejectionReasonsWithWarmUpExcluded) {
  const auto m = small_metrics();
  ASSERT_EQ(m.models.size(), 2u);
  const auto& a = m.models[0];
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.warmup_requests, 2);
  EXPECT_EQ(a.requests, 10);
  EXPECT_EQ(a.served, 5);
  EXPECT_EQ(a.late, 3);
  EXPECT_EQ(a.rejected, 2);
  EXPECT_EQ(a.rejected_queue_full, 1);
  EXPECT_EQ(a.rejected_dropped, 0);
  EXPECT_EQ(a.rejected_unserved, 1);
  EXPECT_EQ(m.models[1].requests, 3);
  EXPECT_EQ(m.models[1].warmup_requests, 0);
  EXPECT_EQ(m.all.name, "all");
  EXPECT_EQ(m.all.warmup_requests, 2);
  EXPECT_EQ(m.all.requests, 13);
  EXPECT_EQ(m.all.served, 8);
  EXPECT_EQ(m.all.late, 3);
  EXPECT_EQ(m.all.rejected, 2);
}

TEST(ServeMetrics, RatesAttainmentAndBatch) {
  const auto m = small_metrics();
  const auto& a = m.models[0];
  EXPECT_DOUBLE_EQ(a.throughput_rps, 0.8);  // 8 completed / 10 s
  EXPECT_DOUBLE_EQ(a.goodput_rps, 0.5);
  EXPECT_DOUBLE_EQ(*a.slo_attainment, 0.5);  // 5 of 10: late and rejected are misses
  EXPECT_DOUBLE_EQ(*a.mean_batch, 8.0 / 3);  // batches of 4, 2, 2
  EXPECT_DOUBLE_EQ(a.offered_rps, 1.0);
  EXPECT_DOUBLE_EQ(*m.models[1].slo_attainment, 1.0);
  EXPECT_DOUBLE_EQ(*m.models[1].mean_batch, 1.0);
  EXPECT_DOUBLE_EQ(m.all.throughput_rps, 1.1);
  EXPECT_DOUBLE_EQ(m.all.goodput_rps, 0.8);
  EXPECT_DOUBLE_EQ(*m.all.slo_attainment, 8.0 / 13);
  EXPECT_DOUBLE_EQ(*m.all.mean_batch, 11.0 / 6);  // 11 requests in 6 batches: 4, 2, 2, 1, 1, 1
  EXPECT_DOUBLE_EQ(m.all.offered_rps, 3.0);
  EXPECT_DOUBLE_EQ(m.sm_allocated, 0.05);  // 66 SM-s / (132 SMs x 10 s)
  EXPECT_FALSE(m.sm_utilization.has_value());  // no occupancy given: unknown, not the allocation
}

TEST(ServeMetrics, UtilizationIsOccupancyAndAllocationIsKeptApart) {
  // 66 SM-s lent, of which 13.2 SM-s held a resident block, over 132 SMs x 10 s.
  const auto m = compute_metrics(small_run(), kLoads, {2, 12}, 66, 132, 13.2);
  ASSERT_TRUE(m.sm_utilization.has_value());
  EXPECT_DOUBLE_EQ(*m.sm_utilization, 0.01);
  EXPECT_DOUBLE_EQ(m.sm_allocated, 0.05);
  const auto j = metrics_to_json(m, {});
  EXPECT_DOUBLE_EQ(j["sm_utilization"].get<double>(), 0.01);
  EXPECT_DOUBLE_EQ(j["sm_allocated"].get<double>(), 0.05);
  EXPECT_NE(j["definitions"]["sm_utilization"].get<std::string>().find("resident thread block"), std::string::npos);
  EXPECT_NE(j["definitions"]["sm_allocated"].get<std::string>().find("run in flight"), std::string::npos);
}

TEST(ServeMetrics, PercentilesAreNearestRank) {
  const auto m = small_metrics();
  // a: 10..80 ms, n = 8: p50 is the 4th, p95 and p99 the 8th.
  EXPECT_NEAR(*m.models[0].p50_ms, 40, 1e-9);
  EXPECT_NEAR(*m.models[0].p95_ms, 80, 1e-9);
  EXPECT_NEAR(*m.models[0].p99_ms, 80, 1e-9);
  // all: 5, 5, 5, 10, ..., 80 (n = 11): p50 is the 6th (30 ms), p95 the 11th.
  EXPECT_NEAR(*m.all.p50_ms, 30, 1e-9);
  EXPECT_NEAR(*m.all.p95_ms, 80, 1e-9);

  auto percentiles_of = [](int n) {
    std::vector<RequestRecord> r;
    for (int i = n; i >= 1; --i) r.push_back(completed(0, 1.0, i, 1, 1000));  // unsorted on purpose
    const auto mm = compute_metrics(r, {{"x", 1000, 1}}, {0, 10}, 0, 1).models[0];
    return std::vector<double>{*mm.p50_ms, *mm.p95_ms, *mm.p99_ms};
  };
  auto near = [](std::vector<double> got, std::vector<double> want) {
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-9) << "percentile " << i;
  };
  near(percentiles_of(1), {1, 1, 1});
  near(percentiles_of(10), {5, 10, 10});     // ranks ceil(5), ceil(9.5), ceil(9.9)
  near(percentiles_of(20), {10, 19, 20});    // ranks 10, 19, ceil(19.8)
  near(percentiles_of(100), {50, 95, 99});
  near(percentiles_of(101), {51, 96, 100});  // ranks ceil(50.5), ceil(95.95), ceil(99.99)
}

TEST(ServeMetrics, UndefinedValuesStayEmpty) {
  const auto m = compute_metrics({rejected(0, 5)}, {{"x", 10, 1}, {"idle", 10, 0}}, {0, 10}, 0, 132);
  EXPECT_FALSE(m.models[0].p50_ms);
  EXPECT_FALSE(m.models[0].mean_batch);
  EXPECT_DOUBLE_EQ(*m.models[0].slo_attainment, 0.0);
  EXPECT_FALSE(m.models[1].slo_attainment);  // no request arrived
  EXPECT_FALSE(m.jain_fairness);              // the only model with load got nothing
}

TEST(ServeMetrics, JainIndexOverNormalizedGoodput) {
  // x_a = min(1, 0.5 / 1) = 0.5, x_b = 0.3 / 2 = 0.15: (0.65)^2 / (2 (0.25 + 0.0225)).
  EXPECT_NEAR(*small_metrics().jain_fairness, 0.4225 / 0.545, 1e-12);

  // Equal shares give 1; goodput above the offered rate is capped at 1; a model without load is left out.
  std::vector<RequestRecord> r;
  for (int i = 0; i < 10; ++i) r.push_back(completed(0, i, 1, 1, 10));
  for (int i = 0; i < 30; ++i) r.push_back(completed(1, i / 3.0, 1, 1, 10));
  r.push_back(completed(2, 1, 1, 1, 10));
  const auto m = compute_metrics(r, {{"a", 10, 0.5}, {"b", 10, 2}, {"c", 10, 0}}, {0, 10}, 0, 1);
  EXPECT_DOUBLE_EQ(*m.jain_fairness, 1.0);  // x = min(1, 1/0.5) = 1 and min(1, 3/2) = 1
}

TEST(ServeMetrics, BadRecordsAreRejected) {
  EXPECT_EQ(error_of([] { compute_metrics({completed(2, 1, 1, 1, 10)}, kLoads, {0, 10}, 0, 1); }),
            "metrics: record 0 names model 2, but there are 2 models");
  EXPECT_EQ(error_of([] { compute_metrics({rejected(-1, 1)}, kLoads, {0, 10}, 0, 1); }),
            "metrics: record 0 names model -1, but there are 2 models");
  EXPECT_EQ(error_of([] { compute_metrics({rejected(0, 10)}, kLoads, {0, 10}, 0, 1); }),
            "metrics: record 0 arrives at 10 s, not before the window's end 10 s");
  EXPECT_EQ(error_of([] { compute_metrics({completed(0, 1, 1, 0, 10)}, kLoads, {0, 10}, 0, 1); }),
            "metrics: record 0 completed in a batch of 0; a batch has >= 1 request");
  EXPECT_EQ(error_of([] { compute_metrics({}, kLoads, {5, 5}, 0, 1); }),
            "metrics: the window [5, 5) s is empty or the GPU has 1 SMs");
}

TEST(ServeMetrics, CsvHasOneRowPerModelAndAll) {
  std::ostringstream csv;
  write_metrics_csv(csv, compute_metrics({completed(0, 1, 20, 2, 50), rejected(0, 2)}, {{"r50", 50, 0.5}, {"idle", 10, 1}},
                                         {0, 10}, 13.2, 132, 6.6));
  EXPECT_EQ(csv.str(),
            "model,warmup_requests,requests,served,late,rejected,rejected_queue_full,rejected_dropped,"
            "rejected_unserved,offered_rps,throughput_rps,goodput_rps,slo_attainment,p50_ms,p95_ms,p99_ms,mean_batch,"
            "sm_utilization,sm_allocated,jain_fairness\n"
            "r50,0,2,1,0,1,1,0,0,0.5,0.1,0.1,0.5,20,20,20,2,,,\n"
            "idle,0,0,0,0,0,0,0,0,1,0,0,,,,,,,,\n"
            "all,0,2,1,0,1,1,0,0,1.5,0.1,0.1,0.5,20,20,20,2,0.005,0.01,0.5\n");
}

TEST(ServeMetrics, UnmeasuredUtilizationIsAnEmptyCell) {
  std::ostringstream csv;
  write_metrics_csv(csv, compute_metrics({completed(0, 1, 20, 2, 50)}, {{"r50", 50, 0.5}}, {0, 10}, 13.2, 132));
  const std::string text = csv.str();
  EXPECT_NE(text.find("\nall,0,1,1,0,0,0,0,0,0.5,0.1,0.1,1,20,20,20,2,,0.01,1\n"), std::string::npos) << text;
}

TEST(ServeMetrics, JsonCarriesProvenanceDefinitionsAndNulls) {
  const auto j = metrics_to_json(compute_metrics({rejected(0, 5)}, {{"x", 10, 1}}, {0, 10}, 0, 132),
                                 {{"commit", "abc123"}, {"policy", "dstack"}});
  EXPECT_EQ(j["provenance"]["commit"], "abc123");
  EXPECT_EQ(j["window"]["end_s"], 10.0);
  EXPECT_TRUE(j["models"][0]["p50_ms"].is_null());
  EXPECT_EQ(j["models"][0]["rejected"], 1);
  EXPECT_EQ(j["models"][0]["rejected_queue_full"], 1);
  EXPECT_TRUE(j["jain_fairness"].is_null());
  EXPECT_TRUE(j["sm_utilization"].is_null());  // not measured: null, not the allocation
  EXPECT_EQ(j["sm_allocated"], 0.0);
  EXPECT_EQ(j["all"]["name"], "all");
  EXPECT_TRUE(j["definitions"].contains("percentiles"));
}

}  // namespace
}  // namespace dstack::serve
