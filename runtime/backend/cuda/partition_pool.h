#pragma once
// Several partition layouts held at once. Holding a layout creates its green contexts and streams
// once; afterwards re-sizing a model is choosing another layout's stream (a launch, ~10 us on an
// H100) instead of creating contexts (~1.7 ms per partition; bench/bench_partitions.cc measures
// both). Layouts may overlap each other's SMs (a policy switches between them); partitions within
// one layout never do.
#include <cuda_runtime_api.h>

#include <optional>
#include <vector>

#include "runtime/backend/cuda/green_context.h"
#include "runtime/backend/cuda/resources.h"
#include "runtime/backend/partition_layout.h"

namespace dstack::cuda {

class PartitionPool {
 public:
  // Queries the device's SM split granularity (throws DriverUnavailable without green contexts).
  explicit PartitionPool(int device_ordinal = 0);

  const SmPartitionGranularity& granularity() const noexcept { return granularity_; }

  // The id of `layout`, creating its partitions the first time it is asked for. Throws
  // std::invalid_argument (resolve_layout's message) for a layout the device cannot hold.
  int hold(const PartitionLayout& layout);
  int layouts_held() const noexcept { return static_cast<int>(held_.size()); }

  const PartitionLayout& layout(int id) const { return at(id).layout; }
  int partitions(int id) const { return static_cast<int>(at(id).resolved.partitions.size()); }
  // The stream work for partition `p` of layout `id` goes to, and the SMs it really has (read back
  // from the green context; the device's SM count for the whole-GPU layout).
  cudaStream_t stream(int id, int p) const;
  // Stream `lane` of partition `p` of layout `id` (lane 0 is stream(id, p)), created on first use in
  // the same green context (the whole GPU: an ordinary stream): concurrent runs of several models
  // on one partition each take their own lane, as a server gives each model its own stream.
  cudaStream_t lane(int id, int p, int lane);
  int sm_count(int id, int p) const;
  // Wall time hold() spent creating this layout's contexts and streams.
  double creation_ms(int id) const { return at(id).creation_ms; }

 private:
  struct Held {
    PartitionLayout layout;
    ResolvedLayout resolved;
    std::vector<GreenPartition> green;  // empty for the whole-GPU layout
    std::optional<Stream> whole;        // the whole-GPU layout's ordinary stream
    // Lanes 1.. per partition (lane 0 is the partition's own stream).
    std::vector<std::vector<GreenStream>> green_lanes;
    std::vector<Stream> whole_lanes;
    double creation_ms = 0;
  };
  const Held& at(int id) const;

  int device_;
  SmPartitionGranularity granularity_;
  std::vector<Held> held_;
};

}  // namespace dstack::cuda
