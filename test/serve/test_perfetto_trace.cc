// The Chrome/Perfetto trace: it parses back, has one named track per partition (SM range), complete
// events in microseconds and counter events, and its bytes depend on the content only (a golden file,
// which tools/plot_trace.py's test also draws).
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "runtime/serve/perfetto_trace.h"

namespace dstack::serve {
namespace {

using nlohmann::json;

const std::filesystem::path kGolden = std::filesystem::path(DSTACK_SERVE_FIXTURES) / "trace_small.json";

std::vector<TraceSlice> slices() {
  return {
      {0, 0, 64, "resnet50", 8, 0.0, 0.012},
      {1, 64, 32, "mobilenet_v2", 4, 0.001, 0.004},
      {2, 96, 36, "bert_base", 2, 0.0005, 0.020},
      {1, 64, 32, "mobilenet_v2", 8, 0.004, 0.0095},
      {0, 0, 64, "resnet50", 16, 0.012, 0.031},
      // A new layout: partition 0 shrinks to SMs 0-31, a new track.
      {0, 0, 32, "resnet50", 4, 0.031, 0.045},
  };
}

ServeTrace trace_of(const std::vector<TraceSlice>& s) {
  ServeTrace trace("h100_sxm (132 SMs), simulated");
  for (const auto& slice : s) trace.add_slice(slice);
  trace.add_counter("queue resnet50", 0.0, 3);
  trace.add_counter("queue mobilenet_v2", 0.0, 1);
  trace.add_counter("queue resnet50", 0.012, 12);
  return trace;
}

const json kProvenance = {{"experiment", "mixed4"}, {"policy", "dstack"}, {"commit", "abc1234"}};

std::string written(const ServeTrace& trace) {
  std::ostringstream out;
  trace.write(out, kProvenance);
  return out.str();
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ServePerfettoTrace, ParsesBackWithOneNamedTrackPerPartition) {
  const json j = json::parse(written(trace_of(slices())));
  EXPECT_EQ(j["otherData"], kProvenance);
  EXPECT_EQ(j["displayTimeUnit"], "ms");
  std::map<int, std::string> tracks;
  std::string process;
  int complete = 0, counters = 0;
  for (const auto& e : j["traceEvents"]) {
    EXPECT_EQ(e["pid"], 1);
    if (e["ph"] == "M" && e["name"] == "thread_name") tracks[e["tid"].get<int>()] = e["args"]["name"];
    if (e["ph"] == "M" && e["name"] == "process_name") process = e["args"]["name"];
    if (e["ph"] == "X") ++complete;
    if (e["ph"] == "C") ++counters;
  }
  EXPECT_EQ(process, "h100_sxm (132 SMs), simulated");
  EXPECT_EQ(tracks, (std::map<int, std::string>{{1, "partition 0: SMs 0-31"},
                                                {2, "partition 0: SMs 0-63"},
                                                {3, "partition 1: SMs 64-95"},
                                                {4, "partition 2: SMs 96-131"}}));
  EXPECT_EQ(complete, 6);
  EXPECT_EQ(counters, 3);
}

TEST(ServePerfettoTrace, CompleteEventsAreInMicrosecondsWithTheirRun) {
  const json j = trace_of(slices()).to_json(kProvenance);
  std::vector<json> complete;
  for (const auto& e : j["traceEvents"])
    if (e["ph"] == "X") complete.push_back(e);
  // Sorted by start: resnet50 at 0, bert at 500 us, mobilenet at 1000 us, ...
  ASSERT_EQ(complete.size(), 6u);
  EXPECT_EQ(complete[0]["name"], "resnet50");
  EXPECT_EQ(complete[0]["ts"], 0.0);
  EXPECT_EQ(complete[0]["dur"], 12000.0);
  EXPECT_EQ(complete[0]["tid"], 2);
  EXPECT_EQ(complete[1]["name"], "bert_base");
  EXPECT_EQ(complete[1]["ts"], 500.0);
  EXPECT_EQ(complete[1]["dur"], 19500.0);
  EXPECT_EQ(complete[2]["args"], (json{{"model", "mobilenet_v2"}, {"batch", 4}, {"partition", 1}, {"first_sm", 64},
                                       {"sms", 32}}));
  EXPECT_EQ(complete[5]["tid"], 1);  // the shrunk partition's track

  std::vector<json> counters;
  for (const auto& e : j["traceEvents"])
    if (e["ph"] == "C") counters.push_back(e);
  ASSERT_EQ(counters.size(), 3u);
  EXPECT_EQ(counters[0]["name"], "queue mobilenet_v2");  // same time: by name
  EXPECT_EQ(counters[2]["ts"], 12000.0);
  EXPECT_EQ(counters[2]["args"]["value"], 12.0);
}

TEST(ServePerfettoTrace, BytesDependOnContentNotInsertionOrder) {
  auto reversed = slices();
  std::reverse(reversed.begin(), reversed.end());
  const std::string a = written(trace_of(slices()));
  EXPECT_EQ(a, written(trace_of(reversed)));
  EXPECT_EQ(a, read_text(kGolden)) << "the format changed: check it, then rewrite " << kGolden;
}

TEST(ServePerfettoTrace, BadSlicesAreRejected) {
  ServeTrace trace("gpu");
  auto error_of = [&](TraceSlice s) -> std::string {
    try {
      trace.add_slice(s);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_EQ(error_of({0, 0, 0, "m", 1, 0, 1}), "trace: m on partition 0 has SMs [0, 0+0); a range needs >= 1 SM");
  EXPECT_EQ(error_of({3, 8, 8, "m", 1, 2, 1}), "trace: m on partition 3 ends at 1 s, before it starts at 2 s");
}

}  // namespace
}  // namespace dstack::serve
