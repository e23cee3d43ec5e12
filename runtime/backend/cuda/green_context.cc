#include "runtime/backend/cuda/green_context.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>

#include "runtime/backend/cuda/check.h"

namespace dstack::cuda {
namespace {

struct DeviceSmGroups {
  CUdevice device{};
  CUdevResource whole{};
  std::vector<CUdevResource> groups;  // disjoint, each of group_sms SMs
  int group_sms = 0;
};

DeviceSmGroups split_device(int ordinal) {
  const DriverApi& api = driver();
  api.require_green_contexts();
  // Green contexts retain the primary context; making it active first avoids initialising and
  // tearing it down around every creation.
  DSTACK_CUDA_CHECK(cudaSetDevice(ordinal));
  DSTACK_CUDA_CHECK(cudaFree(nullptr));

  DeviceSmGroups out;
  DSTACK_CU_CHECK(api.cuDeviceGet(&out.device, ordinal));
  DSTACK_CU_CHECK(api.cuDeviceGetDevResource(out.device, &out.whole, CU_DEV_RESOURCE_TYPE_SM));
  unsigned min_count = out.whole.sm.minSmPartitionSize;
  unsigned n = 0;
  DSTACK_CU_CHECK(api.cuDevSmResourceSplitByCount(nullptr, &n, &out.whole, nullptr, 0, min_count));
  out.groups.resize(n);
  CUdevResource remaining{};
  DSTACK_CU_CHECK(api.cuDevSmResourceSplitByCount(out.groups.data(), &n, &out.whole, &remaining, 0, min_count));
  out.groups.resize(n);
  if (n == 0) throw std::runtime_error("cuDevSmResourceSplitByCount produced no SM groups");
  out.group_sms = static_cast<int>(out.groups[0].sm.smCount);
  return out;
}

}  // namespace

SmPartitionGranularity query_sm_granularity(int device_ordinal) {
  DeviceSmGroups d = split_device(device_ordinal);
  SmPartitionGranularity g;
  g.sm_count = static_cast<int>(d.whole.sm.smCount);
  g.min_partition_sms = static_cast<int>(d.whole.sm.minSmPartitionSize);
  g.coscheduled_alignment = static_cast<int>(d.whole.sm.smCoscheduledAlignment);
  g.split_group_sms = d.group_sms;
  g.split_groups = static_cast<int>(d.groups.size());
  for (std::size_t k = 1; k <= d.groups.size(); ++k) g.partition_sizes.push_back(static_cast<int>(k) * d.group_sms);
  if (g.partition_sizes.empty() || g.partition_sizes.back() != g.sm_count) g.partition_sizes.push_back(g.sm_count);
  return g;
}

GreenStream create_green_stream(CUgreenCtx ctx) {
  CUstream raw{};
  DSTACK_CU_CHECK(driver().cuGreenCtxStreamCreate(&raw, ctx, CU_STREAM_NON_BLOCKING, 0));
  return GreenStream(raw);
}

std::vector<GreenPartition> make_disjoint_partitions(int device_ordinal, const std::vector<int>& sm_counts) {
  DeviceSmGroups d = split_device(device_ordinal);
  const DriverApi& api = driver();

  std::vector<int> groups_needed;
  std::size_t total = 0;
  for (int sms : sm_counts) {
    if (sms <= 0) throw std::invalid_argument(fmt::format("a partition needs at least one SM (asked for {})", sms));
    int k = (sms + d.group_sms - 1) / d.group_sms;
    groups_needed.push_back(k);
    total += static_cast<std::size_t>(k);
  }
  if (total > d.groups.size()) {
    throw std::invalid_argument(fmt::format(
        "partitions of {} SMs do not fit on disjoint SMs: the device splits into {} groups of {} SMs "
        "({} SMs in all); partition sizes are multiples of {}",
        sm_counts, d.groups.size(), d.group_sms, d.groups.size() * static_cast<std::size_t>(d.group_sms), d.group_sms));
  }

  std::vector<GreenPartition> parts;
  std::size_t next = 0;
  for (int k : groups_needed) {
    CUdevResourceDesc desc{};
    DSTACK_CU_CHECK(api.cuDevResourceGenerateDesc(&desc, &d.groups[next], static_cast<unsigned>(k)));
    next += static_cast<std::size_t>(k);
    CUgreenCtx raw_ctx{};
    DSTACK_CU_CHECK(api.cuGreenCtxCreate(&raw_ctx, desc, d.device, CU_GREEN_CTX_DEFAULT_STREAM));
    UniqueHandle<CUgreenCtx, DestroyGreenContext> ctx(raw_ctx);
    GreenStream stream = create_green_stream(ctx.get());
    CUdevResource got{};
    DSTACK_CU_CHECK(api.cuGreenCtxGetDevResource(ctx.get(), &got, CU_DEV_RESOURCE_TYPE_SM));
    parts.emplace_back(std::move(ctx), std::move(stream), static_cast<int>(got.sm.smCount));
  }
  return parts;
}

}  // namespace dstack::cuda
