#pragma once
// Synthetic kernels and plans for simulator tests: a kernel of chosen blocks, threads, registers,
// shared memory, FLOPs and bytes per block, with its occupancy computed against a device's limits.
#include <gtest/gtest.h>

#include <memory>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "kernels/occupancy.h"
#include "runtime/sim/device_spec.h"
#include "runtime/sim/engine.h"
#include "runtime/sim/sim_plan.h"

namespace dstack::sim::test {

struct KernelShape {
  int64_t blocks = 1;
  int threads = 128;
  int registers = 32;
  int shared_bytes = 0;
  double flops_per_block = 0;
  double bytes_per_block = 0;
  bool tensor_core = false;
};

inline SimKernel make_kernel(const DeviceSpec& d, const KernelShape& s, const std::string& name = "synthetic") {
  SimKernel k;
  k.kernel = name;
  k.blocks = s.blocks;
  k.threads = s.threads;
  kernels::KernelResources res;
  res.kernel = k.kernel;
  res.arch = d.arch;
  res.registers = s.registers;
  res.barriers = 1;
  kernels::LaunchGeometry g;
  g.kernel = name;
  g.grid.x = static_cast<unsigned>(s.blocks);
  g.block.x = static_cast<unsigned>(s.threads);
  g.shared_bytes = static_cast<std::size_t>(s.shared_bytes);
  k.occupancy = kernels::occupancy(g, res, d.sm_limits());
  k.warps = k.occupancy.warps_per_block;
  auto use = [](int n) { return n <= 0 || n == INT_MAX ? 0.0 : 1.0 / n; };
  k.use = {use(k.occupancy.blocks_by_threads), use(k.occupancy.blocks_by_blocks), use(k.occupancy.blocks_by_registers),
           use(k.occupancy.blocks_by_shared_memory), use(k.occupancy.blocks_by_barriers)};
  k.work.flops = s.flops_per_block;
  k.work.bytes = s.bytes_per_block;
  k.work.tensor_core = s.tensor_core;
  k.work.peak_flops_per_sm = s.tensor_core ? d.tensor_flops_per_sm() : d.fp32_flops_per_sm();
  k.work.latency_s = d.model.block_latency_us * 1e-6;
  return k;
}

inline std::shared_ptr<const SimPlan> make_plan(std::vector<SimKernel> kernels, const std::string& model = "synthetic") {
  auto p = std::make_shared<SimPlan>();
  p->model = model;
  p->kernels = std::move(kernels);
  return p;
}

inline std::vector<int> sm_range(int first, int count) {
  std::vector<int> ids(count);
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

// Runs `plan` alone on SMs [0, sms) and returns the duration of its kernels (first start to last
// end, launch overhead excluded).
inline double kernel_time(const DeviceSpec& d, SimMode mode, std::shared_ptr<const SimPlan> plan, int sms,
                          KernelTiming* first = nullptr) {
  Engine e(d, mode);
  const int pool = e.add_pool(sm_range(0, sms));
  const int run = e.start_run(plan, pool, DispatchMode::graph, 0.0, true);
  e.run_until();
  const RunTiming t = e.take_result(run);
  if (first) *first = t.kernels.at(0);
  return t.end_s - t.start_s;
}

// Tests run in block and fast mode alike: TEST_P(BothModes, ...) in any file of test_sim
// (instantiated once, in test_sim_engine.cc).
class BothModes : public ::testing::TestWithParam<SimMode> {};

// The shipped H100 description, loaded once per test binary.
inline const DeviceSpec& h100() {
  static const DeviceSpec d = load_device("h100_sxm");
  return d;
}

// Compute-bound: 256 threads (8 blocks per SM by threads), 1 MFLOP per block, no DRAM traffic, so
// pools never slow each other.
inline KernelShape compute_kernel(int64_t blocks) {
  return KernelShape{.blocks = blocks, .threads = 256, .registers = 32, .flops_per_block = 1e6};
}

// Two plans that slow each other when run in two pools: memory-bound, compute-bound and light
// kernels interleaved (the replay-vs-events scenario).
struct ContendedPlans {
  std::shared_ptr<const SimPlan> a, b;
};
inline ContendedPlans contended_plans(const DeviceSpec& d) {
  const SimKernel mem = make_kernel(d, KernelShape{.blocks = 5000, .threads = 256, .bytes_per_block = 1e6});
  const SimKernel cmp = make_kernel(d, compute_kernel(3000));
  const SimKernel light = make_kernel(d, KernelShape{.blocks = 700, .threads = 128, .flops_per_block = 1e6,
                                                     .bytes_per_block = 1e4});
  return {make_plan({cmp, mem, light, mem, cmp}), make_plan({light, cmp, mem, light})};
}

// Starts them on `e`: plan a as a graph at 0 on SMs 0-63, plan b per kernel 37 us later on SMs
// 64-127, so they slow each other mid-kernel. Returns the two pools.
inline std::pair<int, int> start_contended(Engine& e, const ContendedPlans& p, bool record) {
  const int a = e.add_pool(sm_range(0, 64));
  const int b = e.add_pool(sm_range(64, 64));
  e.start_run(p.a, a, DispatchMode::graph, 0.0, record);
  e.start_run(p.b, b, DispatchMode::per_kernel, 37e-6, record);
  return {a, b};
}

}  // namespace dstack::sim::test
