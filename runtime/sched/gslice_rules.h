#pragma once
// GSLICE's two rules (../shared/PAPER.md, "What GSLICE did") as pure functions, so that they can be
// checked by hand (test/sched/test_baselines.cc); the policy is runtime/sched/gslice_policy.cc.
// CPU only.
#include <cstdint>
#include <vector>

namespace dstack::sched {

// GSLICE's share rule over `capacity` SMs handed out in whole groups of `group` SMs (an H100: 120
// split SMs in groups of 8). knees[i] is model i's knee in SMs (rounded up to whole groups and
// clamped to the capacity here); high[i] marks a high-priority model.
//  - knees sum within capacity: everyone gets its knee; the leftover groups go to the high-priority
//    models in proportion to their knees (to every model in proportion to its knee when none is
//    high priority);
//  - otherwise high-priority models get their knees and the others share what remains in
//    proportion to their knees, each at least one group. If the high-priority knees leave less than
//    one group per other model, everyone shares the capacity in proportion to its knee (each at
//    least one group).
// Rounding: a proportional share is cut to whole groups (floor); the groups left over go one at a
// time to the largest remainders (ties to the lower index). A model raised to its one-group minimum
// is paid for by the largest share of its set. Returns SMs per model, each a multiple of `group`,
// summing to at most `capacity`. Throws std::invalid_argument when the capacity holds fewer groups
// than models, or for sizes that do not match.
std::vector<int> gslice_shares(const std::vector<int>& knees, const std::vector<bool>& high, int capacity, int group);

// GSLICE's adaptive batching step after a batch of `batch` requests took `latency_s` against the
// target `target_s`:
//  - latency > target: the cap shrinks to min(cap, batch) − floor((L − S)/(L/b));
//  - target − latency ≥ 0.1·target: the cap grows by floor((S − L)/(L/b));
//  - otherwise it stays.
// The result lies in [1, max_cap]. (GSLICE asks for more GPU when b = 1 is still too slow; static
// partitions cannot, so the cap stays at 1.)
int64_t gslice_adapt_batch(int64_t cap, int64_t batch, double latency_s, double target_s, int64_t max_cap);

}  // namespace dstack::sched
