#pragma once
// A partition layout is a value: the SM counts of disjoint partitions the GPU is cut into, e.g.
// {64, 32, 24}. Resolving it against the device's real split granularity (never assumed) gives the
// SMs each partition really gets; the CUDA backend turns a resolved layout into green contexts, the
// simulator uses it as is. No CUDA header here.
#include <string>
#include <string_view>
#include <vector>

#include "runtime/backend/gpu_info.h"

namespace dstack {

struct PartitionLayout {
  std::vector<int> sms;  // requested SMs per partition
  bool operator==(const PartitionLayout&) const = default;
};

struct ResolvedPartition {
  int sms = 0;          // SMs it gets: the request rounded up to whole split groups
  int first_group = 0;  // index of its first split group (groups are taken in order)
  int groups = 0;       // split groups it spans; 0 for the whole-GPU partition
};

struct ResolvedLayout {
  std::vector<ResolvedPartition> partitions;
  // A single partition of every SM (the whole device, an ordinary stream): the only way to use the
  // SMs a split leaves over (an H100 splits 120 of its 132 SMs into groups of 8).
  bool whole_gpu = false;
  int total_sms() const;
};

// Rounds each request up to whole groups of g.split_group_sms and places the partitions on
// consecutive groups. {g.sm_count} alone resolves to the whole GPU. Throws std::invalid_argument
// naming the allowed sizes when a request is not positive, exceeds the device, or the partitions do
// not fit on disjoint SMs.
ResolvedLayout resolve_layout(const PartitionLayout& layout, const SmPartitionGranularity& g);

// "64,32,24" or "64+32+24" -> {64, 32, 24}. Throws std::invalid_argument for an empty or malformed list.
PartitionLayout parse_layout(std::string_view text);

// "[64, 32, 24]".
std::string layout_str(const PartitionLayout& layout);

}  // namespace dstack
