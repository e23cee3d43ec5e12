#include "runtime/serve/perfetto_trace.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <ostream>
#include <stdexcept>
#include <tuple>

namespace dstack::serve {
namespace {

using nlohmann::json;

constexpr int kGpuPid = 1;

// Whole nanoseconds, so the microsecond values print without binary-fraction noise.
double microseconds(double s) { return std::round(s * 1e9) / 1e3; }

using TrackKey = std::tuple<int, int, int>;  // partition, first SM, SM count

}  // namespace

std::string ServeTrace::track_name(int partition, int first_sm, int sms) {
  return fmt::format("partition {}: SMs {}-{}", partition, first_sm, first_sm + sms - 1);
}

void ServeTrace::add_slice(TraceSlice slice) {
  if (slice.sms <= 0 || slice.first_sm < 0)
    throw std::invalid_argument(fmt::format("trace: {} on partition {} has SMs [{}, {}+{}); a range needs >= 1 SM",
                                            slice.model, slice.partition, slice.first_sm, slice.first_sm, slice.sms));
  if (!(slice.end_s >= slice.start_s))
    throw std::invalid_argument(fmt::format("trace: {} on partition {} ends at {} s, before it starts at {} s",
                                            slice.model, slice.partition, slice.end_s, slice.start_s));
  slices_.push_back(std::move(slice));
}

void ServeTrace::add_counter(std::string name, double t_s, double value) {
  counters_.push_back({std::move(name), t_s, value});
}

json ServeTrace::to_json(const json& metadata) const {
  // A partition whose SM range changes (a new layout) becomes a new track: tids follow the sorted keys.
  std::map<TrackKey, int> tids;
  for (const auto& s : slices_) tids.emplace(TrackKey{s.partition, s.first_sm, s.sms}, 0);
  int next_tid = 1;
  for (auto& [key, tid] : tids) tid = next_tid++;

  json events = json::array();
  events.push_back({{"ph", "M"}, {"pid", kGpuPid}, {"name", "process_name"}, {"args", {{"name", gpu_name_}}}});
  for (const auto& [key, tid] : tids) {
    const auto& [partition, first_sm, sms] = key;
    events.push_back({{"ph", "M"}, {"pid", kGpuPid}, {"tid", tid}, {"name", "thread_name"},
                      {"args", {{"name", track_name(partition, first_sm, sms)}}}});
    events.push_back({{"ph", "M"}, {"pid", kGpuPid}, {"tid", tid}, {"name", "thread_sort_index"},
                      {"args", {{"sort_index", tid}}}});
  }

  std::vector<const TraceSlice*> slices;
  for (const auto& s : slices_) slices.push_back(&s);
  auto slice_order = [&](const TraceSlice* s) {
    return std::tuple(s->start_s, tids.at({s->partition, s->first_sm, s->sms}), s->end_s, s->model, s->batch);
  };
  std::stable_sort(slices.begin(), slices.end(),
                   [&](const TraceSlice* a, const TraceSlice* b) { return slice_order(a) < slice_order(b); });
  for (const TraceSlice* s : slices)
    events.push_back({{"ph", "X"}, {"pid", kGpuPid}, {"tid", tids.at({s->partition, s->first_sm, s->sms})},
                      {"name", s->model}, {"cat", "batch"}, {"ts", microseconds(s->start_s)},
                      {"dur", microseconds(s->end_s - s->start_s)},
                      {"args", {{"model", s->model}, {"batch", s->batch}, {"partition", s->partition},
                                {"first_sm", s->first_sm}, {"sms", s->sms}}}});

  std::vector<const Counter*> counters;
  for (const auto& c : counters_) counters.push_back(&c);
  std::stable_sort(counters.begin(), counters.end(), [](const Counter* a, const Counter* b) {
    return std::tie(a->t_s, a->name) < std::tie(b->t_s, b->name);
  });
  for (const Counter* c : counters)
    events.push_back({{"ph", "C"}, {"pid", kGpuPid}, {"name", c->name}, {"ts", microseconds(c->t_s)},
                      {"args", {{"value", c->value}}}});

  return {{"traceEvents", events}, {"displayTimeUnit", "ms"}, {"otherData", metadata}};
}

void ServeTrace::write(std::ostream& out, const json& metadata) const {
  const json trace = to_json(metadata);
  out << "{\"displayTimeUnit\": \"ms\",\n\"otherData\": " << trace["otherData"].dump() << ",\n\"traceEvents\": [";
  const auto& events = trace["traceEvents"];
  for (std::size_t i = 0; i < events.size(); ++i) out << (i ? ",\n" : "\n") << events[i].dump();
  out << "\n]}\n";
}

}  // namespace dstack::serve
