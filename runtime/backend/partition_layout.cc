#include "runtime/backend/partition_layout.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <stdexcept>

namespace dstack {

int ResolvedLayout::total_sms() const {
  int total = 0;
  for (const ResolvedPartition& p : partitions) total += p.sms;
  return total;
}

ResolvedLayout resolve_layout(const PartitionLayout& layout, const SmPartitionGranularity& g) {
  if (g.split_group_sms <= 0 || g.split_groups <= 0 || g.sm_count <= 0)
    throw std::invalid_argument("the device reports no SM split granularity (green contexts unavailable)");
  if (layout.sms.empty()) throw std::invalid_argument("a partition layout needs at least one partition");
  ResolvedLayout out;
  if (layout.sms.size() == 1 && layout.sms[0] == g.sm_count) {
    out.whole_gpu = true;
    out.partitions.push_back({g.sm_count, 0, 0});
    return out;
  }
  int next_group = 0;
  for (int request : layout.sms) {
    if (request <= 0 || request > g.sm_count)
      throw std::invalid_argument(fmt::format("partition of {} SMs in layout {}: sizes must be in 1..{} (this device "
                                              "has {} SMs)", request, layout_str(layout), g.sm_count, g.sm_count));
    const int groups = (request + g.split_group_sms - 1) / g.split_group_sms;
    out.partitions.push_back({groups * g.split_group_sms, next_group, groups});
    next_group += groups;
  }
  if (next_group > g.split_groups)
    throw std::invalid_argument(fmt::format(
        "layout {} does not fit on disjoint SMs: it needs {} groups of {} SMs, the device splits into {} groups "
        "({} SMs); sizes round up to multiples of {}, and only a single partition may take all {} SMs",
        layout_str(layout), next_group, g.split_group_sms, g.split_groups, g.split_groups * g.split_group_sms,
        g.split_group_sms, g.sm_count));
  return out;
}

PartitionLayout parse_layout(std::string_view text) {
  PartitionLayout layout;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t end = std::min(text.find_first_of(",+", pos), text.size());
    const std::string_view item = text.substr(pos, end - pos);
    int value = 0;
    const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size())
      throw std::invalid_argument(fmt::format("malformed partition layout '{}': expected SM counts separated by "
                                              "commas, e.g. 64,32,24", text));
    layout.sms.push_back(value);
    pos = end + 1;
  }
  return layout;
}

std::string layout_str(const PartitionLayout& layout) { return fmt::format("{}", layout.sms); }

}  // namespace dstack
