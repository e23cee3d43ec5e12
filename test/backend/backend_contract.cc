// The cases of the backend contract (backend_contract.h). Every timing claim is an order, never a
// duration: the same cases hold on the simulator and on a GPU.
#include "test/backend/backend_contract.h"

#include <map>
#include <set>
#include <vector>

namespace dstack::test {
namespace {

// Two partitions of the smallest allowed size each: on any GPU the split allows.
PartitionLayout two_partitions(const Backend& b) {
  const int unit = b.granularity().split_group_sms;
  return PartitionLayout{{unit, unit}};
}

RunRequest run(const char* model, int64_t batch, int partition, uint64_t tag = 0) {
  return RunRequest{.model = model, .batch = batch, .partition = partition, .dispatch = DispatchMode::graph, .tag = tag};
}

// Collects every completion until nothing is in flight.
std::vector<RunCompletion> drain(Backend& b) {
  std::vector<RunCompletion> out;
  while (b.in_flight() > 0) {
    auto c = b.run_until(b.now() + 10.0);
    if (!c) {
      ADD_FAILURE() << "a run was still in flight 10 s after the last completion";
      break;
    }
    out.push_back(*c);
  }
  return out;
}

void expect_ordered_times(const RunCompletion& c, double now) {
  EXPECT_LE(c.submitted_s, c.started_s) << "run " << c.id << " started before it was submitted";
  EXPECT_LE(c.started_s, c.finished_s) << "run " << c.id;
  EXPECT_LE(c.finished_s, now + 1e-12) << "run " << c.id << " came back before it finished";
}

}  // namespace

std::string contract_name(const ::testing::TestParamInfo<ContractBackend>& info) { return info.param.name; }

TEST_P(BackendContract, StartsIdleOnTheWholeGpu) {
  EXPECT_EQ(b().in_flight(), 0);
  ASSERT_EQ(b().layout().partitions.size(), 1u);
  EXPECT_EQ(b().layout().partitions[0].sms, b().granularity().sm_count);
  EXPECT_GE(b().now(), 0.0);
  EXPECT_FALSE(b().describe().empty());
}

TEST_P(BackendContract, CompletionsComeBackInFinishOrderAndInFlightCounts) {
  b().set_layout(two_partitions(b()));
  const RunId large = b().submit(run(kLargeModel, kContractMaxBatch, 0, 1));
  const RunId small = b().submit(run(kSmallModel, 1, 1, 2));
  EXPECT_NE(large, small);
  EXPECT_EQ(b().in_flight(), 2);
  auto first = b().run_until(b().now() + 10.0);
  ASSERT_TRUE(first);
  EXPECT_EQ(b().in_flight(), 1);
  auto second = b().run_until(b().now() + 10.0);
  ASSERT_TRUE(second);
  EXPECT_EQ(b().in_flight(), 0);
  EXPECT_LE(first->finished_s, second->finished_s);
  EXPECT_EQ(std::set<RunId>({first->id, second->id}), std::set<RunId>({large, small}));
  // The tag and the request come back with their run.
  for (const auto& c : {*first, *second}) EXPECT_EQ(c.request.tag, c.id == large ? 1u : 2u);
}

TEST_P(BackendContract, LayoutChangesWaitForAnIdleGpu) {
  const ResolvedLayout two = b().set_layout(two_partitions(b()));
  ASSERT_EQ(two.partitions.size(), 2u);
  b().submit(run(kSmallModel, 1, 0));
  EXPECT_THROW(b().set_layout(PartitionLayout{{b().granularity().sm_count}}), std::logic_error);
  EXPECT_EQ(b().layout().partitions.size(), 2u) << "a refused layout must leave the old one in force";
  drain(b());
  EXPECT_NO_THROW(b().set_layout(PartitionLayout{{b().granularity().sm_count}}));
  EXPECT_EQ(b().layout().partitions.size(), 1u);
}

TEST_P(BackendContract, PartitionsHaveTheirResolvedSmsAndBadIndexesAreRefused) {
  const SmPartitionGranularity& g = b().granularity();
  const int unit = g.split_group_sms;
  // A request between group sizes rounds up to whole groups.
  const ResolvedLayout l = b().set_layout(PartitionLayout{{unit + 1, unit}});
  ASSERT_EQ(l.partitions.size(), 2u);
  EXPECT_EQ(l.partitions[0].sms, 2 * unit);
  EXPECT_EQ(l.partitions[1].sms, unit);
  EXPECT_THROW(b().submit(run(kSmallModel, 1, 2)), std::invalid_argument);
  EXPECT_THROW(b().submit(run(kSmallModel, 1, -1)), std::invalid_argument);
  EXPECT_THROW(b().submit(run(kSmallModel, 0, 0)), std::invalid_argument);
  EXPECT_THROW(b().submit(run("no_such_model", 1, 0)), std::invalid_argument);
  EXPECT_THROW(b().set_layout(PartitionLayout{{g.sm_count + unit}}), std::invalid_argument);
  EXPECT_EQ(b().in_flight(), 0) << "refused submissions must not count as in flight";
  b().submit(run(kSmallModel, 2, 0));
  b().submit(run(kLargeModel, 1, 1));
  std::map<std::string, int> sms;
  for (const auto& c : drain(b())) sms[c.request.model] = c.partition_sms;
  EXPECT_EQ(sms[kSmallModel], 2 * unit);
  EXPECT_EQ(sms[kLargeModel], unit);
}

TEST_P(BackendContract, RunUntilStopsAtTheDeadlineWhenNothingFinishes) {
  // Nothing in flight: the clock reaches the deadline (a wall clock may pass it, never stop short).
  const double t = b().now() + 0.002;
  EXPECT_FALSE(b().run_until(t));
  EXPECT_GE(b().now(), t);
  if (!GetParam().wall_clock) {
    EXPECT_DOUBLE_EQ(b().now(), t);
  }
  // A run in flight that cannot finish within a microsecond: run_until returns without it.
  b().submit(run(kLargeModel, kContractMaxBatch, 0));
  const double soon = b().now() + 1e-6;
  if (auto c = b().run_until(soon)) {
    ADD_FAILURE() << "a batch of " << kContractMaxBatch << " came back within 1 us (finished at " << c->finished_s
                  << ", deadline " << soon << ")";
  } else {
    EXPECT_GE(b().now(), soon);
    EXPECT_EQ(b().in_flight(), 1);
  }
  drain(b());
}

TEST_P(BackendContract, CompletionsNeverPrecedeTheirSubmission) {
  b().set_layout(two_partitions(b()));
  for (int round = 0; round < 3; ++round) {
    b().submit(run(kSmallModel, 1 + round, 0));
    b().submit(run(kLargeModel, 1, 1));
    for (const auto& c : drain(b())) expect_ordered_times(c, b().now());
  }
}

TEST_P(BackendContract, EverySubmittedRunCompletesExactlyOnce) {
  b().set_layout(two_partitions(b()));
  std::map<RunId, int> completions;
  std::set<RunId> submitted;
  std::map<std::string, bool> busy;  // one run per model in flight, as the serving loop keeps
  int left = 12;
  double last_finish = 0;
  while (left > 0 || b().in_flight() > 0) {
    for (const char* m : {kSmallModel, kLargeModel})
      if (left > 0 && !busy[m]) {
        submitted.insert(b().submit(run(m, 1 + left % kContractMaxBatch, m == kSmallModel ? 0 : 1)));
        busy[m] = true;
        --left;
      }
    auto c = b().run_until(b().now() + 10.0);
    ASSERT_TRUE(c) << "nothing finished within 10 s with " << b().in_flight() << " runs in flight";
    ++completions[c->id];
    busy[c->request.model] = false;
    EXPECT_GE(c->finished_s, last_finish) << "completions came back out of order";
    last_finish = c->finished_s;
    expect_ordered_times(*c, b().now());
  }
  EXPECT_EQ(completions.size(), submitted.size());
  for (RunId id : submitted) EXPECT_EQ(completions[id], 1) << "run " << id;
}

}  // namespace dstack::test
