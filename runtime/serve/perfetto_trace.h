#pragma once
// Who ran on which SMs when: a Chrome trace-event JSON file (loadable in ui.perfetto.dev and
// chrome://tracing, drawn as a PNG by tools/plot_trace.py). The GPU is one process; each partition (an
// index and its SM range) is one named thread track holding a complete ("X") event per batch that ran;
// counters (e.g. each model's queue length) are "C" events. Output order is fixed by content, so the
// same run writes the same bytes.
#include <cstdint>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dstack::serve {

struct TraceSlice {
  int partition = 0;  // the policy's partition index
  int first_sm = 0;   // the partition's SM range is [first_sm, first_sm + sms)
  int sms = 0;
  std::string model;
  int64_t batch = 0;
  double start_s = 0;
  double end_s = 0;
};

class ServeTrace {
 public:
  // `gpu_name` names the process track, e.g. "h100_sxm (132 SMs), simulated".
  explicit ServeTrace(std::string gpu_name) : gpu_name_(std::move(gpu_name)) {}

  // Throws std::invalid_argument for an empty SM range or an end before the start.
  void add_slice(TraceSlice slice);
  // One sample of a counter track named `name` (e.g. "queue resnet50") at t_s.
  void add_counter(std::string name, double t_s, double value);

  // {"traceEvents": [...], "displayTimeUnit": "ms", "otherData": metadata}: times in microseconds;
  // metadata carries the provenance (tools/plot_trace.py titles its plot with it).
  nlohmann::json to_json(const nlohmann::json& metadata) const;
  // The same JSON, one event per line.
  void write(std::ostream& out, const nlohmann::json& metadata) const;

  // "partition 2: SMs 64-95"
  static std::string track_name(int partition, int first_sm, int sms);

 private:
  struct Counter {
    std::string name;
    double t_s;
    double value;
  };
  std::string gpu_name_;
  std::vector<TraceSlice> slices_;
  std::vector<Counter> counters_;
};

}  // namespace dstack::serve
