#include "runtime/backend/cuda/partition_pool.h"

#include <fmt/format.h>

#include <chrono>
#include <stdexcept>

namespace dstack::cuda {

PartitionPool::PartitionPool(int device_ordinal)
    : device_(device_ordinal), granularity_(query_sm_granularity(device_ordinal)) {}

const PartitionPool::Held& PartitionPool::at(int id) const {
  if (id < 0 || id >= layouts_held())
    throw std::out_of_range(fmt::format("no partition layout with id {} ({} held)", id, layouts_held()));
  return held_[static_cast<size_t>(id)];
}

int PartitionPool::hold(const PartitionLayout& layout) {
  for (size_t i = 0; i < held_.size(); ++i)
    if (held_[i].layout == layout) return static_cast<int>(i);
  Held h;
  h.layout = layout;
  h.resolved = resolve_layout(layout, granularity_);
  const auto start = std::chrono::steady_clock::now();
  if (h.resolved.whole_gpu) {
    DSTACK_CUDA_CHECK(cudaSetDevice(device_));
    h.whole.emplace();
  } else {
    std::vector<int> sizes;
    for (const ResolvedPartition& p : h.resolved.partitions) sizes.push_back(p.sms);
    h.green = make_disjoint_partitions(device_, sizes);
    for (size_t p = 0; p < h.green.size(); ++p)
      if (h.green[p].sm_count() != h.resolved.partitions[p].sms)
        throw std::runtime_error(fmt::format("layout {}: partition {} was asked for {} SMs, the driver gave {}",
                                             layout_str(layout), p, h.resolved.partitions[p].sms,
                                             h.green[p].sm_count()));
  }
  h.creation_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  held_.push_back(std::move(h));
  return layouts_held() - 1;
}

cudaStream_t PartitionPool::stream(int id, int p) const {
  const Held& h = at(id);
  if (p < 0 || p >= partitions(id))
    throw std::out_of_range(fmt::format("layout {} has no partition {}", layout_str(h.layout), p));
  return h.whole ? h.whole->get() : h.green[static_cast<size_t>(p)].stream();
}

int PartitionPool::sm_count(int id, int p) const {
  const Held& h = at(id);
  if (p < 0 || p >= partitions(id))
    throw std::out_of_range(fmt::format("layout {} has no partition {}", layout_str(h.layout), p));
  return h.whole ? granularity_.sm_count : h.green[static_cast<size_t>(p)].sm_count();
}

}  // namespace dstack::cuda

namespace dstack::cuda {

cudaStream_t PartitionPool::lane(int id, int p, int lane) {
  if (lane < 0) throw std::out_of_range(fmt::format("stream lane {} of a partition does not exist", lane));
  if (lane == 0) return stream(id, p);
  at(id);  // a bad id throws here
  Held& h = held_[static_cast<size_t>(id)];
  if (p < 0 || p >= partitions(id))
    throw std::out_of_range(fmt::format("layout {} has no partition {}", layout_str(h.layout), p));
  if (h.whole) {
    while (static_cast<int>(h.whole_lanes.size()) < lane) h.whole_lanes.emplace_back();
    return h.whole_lanes[static_cast<size_t>(lane - 1)].get();
  }
  if (h.green_lanes.size() < h.green.size()) h.green_lanes.resize(h.green.size());
  auto& lanes = h.green_lanes[static_cast<size_t>(p)];
  while (static_cast<int>(lanes.size()) < lane) lanes.push_back(create_green_stream(h.green[static_cast<size_t>(p)].context()));
  return reinterpret_cast<cudaStream_t>(lanes[static_cast<size_t>(lane - 1)].get());
}

}  // namespace dstack::cuda
