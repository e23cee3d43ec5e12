// Placing thread blocks (engine_state.h): block by block in block mode, waves on spans of equally
// loaded SMs in fast mode.
#include "runtime/sim/engine_state.h"

namespace dstack::sim {

int Engine::State::alloc_lane() {
  int id;
  if (!free_lanes.empty()) {
    id = free_lanes.back();
    free_lanes.pop_back();
  } else {
    id = static_cast<int>(lanes.size());
    lanes.emplace_back();
  }
  return id;
}

int Engine::State::alloc_active() {
  int id;
  if (!free_actives.empty()) {
    id = free_actives.back();
    free_actives.pop_back();
  } else {
    id = static_cast<int>(actives.size());
    actives.emplace_back();
  }
  return id;
}

int Engine::State::lane_for(Active& a, int group_index_in_pool) {
  int& id = a.lane_of[group_index_in_pool];
  if (id >= 0) return id;
  id = alloc_lane();
  Lane& l = lanes[id];
  l = Lane{};
  l.t_at = now;
  l.kernel = static_cast<int>(&a - actives.data());
  l.group = pools[a.pool].groups[group_index_in_pool];
  l.live = true;
  if (groups[l.group].lanes.empty()) ++occupied;  // block mode: a group is one SM
  groups[l.group].lanes.push_back(id);
  return id;
}

void Engine::State::place_block(Active& a, int group_index_in_pool) {
  const int lid = lane_for(a, group_index_in_pool);
  Lane& l = lanes[lid];
  Group& g = groups[l.group];
  l.entries.push_back(Entry{work_done(l) + 1.0, 1, 1, 1, 1.0});
  l.per_sm += 1;
  l.charge += 1.0;
  l.resident += 1;
  for (int r = 0; r < kSmResources; ++r) g.used[r] += a.k->use[r];
  g.warps += a.k->warps;
  a.to_dispatch -= 1;
  a.resident += 1;
  a.max_resident = static_cast<int>(std::max<int64_t>(a.max_resident, a.resident));
  if (a.start < 0) a.start = now;
}

bool Engine::State::dispatch_blocks(Active& a) {
  const Pool& p = pools[a.pool];
  bool placed = true;
  while (a.to_dispatch > 0 && placed) {
    placed = false;
    for (int i = 0; i < p.sms && a.to_dispatch > 0; ++i) {
      if (blocks_that_fit(*a.k, groups[p.groups[i]].used) < 1) continue;
      place_block(a, i);
      if (!a.touched[i]) {
        a.touched[i] = 1;
        ++a.sms_used;
      }
      placed = true;
    }
  }
  if (a.max_resident > 0) a.waves = (a.k->blocks + a.max_resident - 1) / a.max_resident;
  return a.to_dispatch == 0;
}

std::size_t Engine::State::split_at(std::vector<Span>& spans, int x) {
  auto it = std::upper_bound(spans.begin(), spans.end(), x, [](int v, const Span& sp) { return v < sp.lo; });
  const std::size_t i = static_cast<std::size_t>(it - spans.begin()) - 1;
  if (spans[i].lo == x) return i;
  if (spans[i].hi == x) return i + 1;
  Span right = spans[i];
  right.lo = x;
  spans[i].hi = x;
  spans.insert(spans.begin() + static_cast<std::ptrdiff_t>(i) + 1, right);
  return i + 1;
}

bool Engine::State::same_load(const Span& a, const Span& b) {
  if (a.blocks != b.blocks || std::abs(a.warps - b.warps) > 1e-9) return false;
  for (int r = 0; r < kSmResources; ++r)
    if (std::abs(a.used[r] - b.used[r]) > 1e-12) return false;
  return true;
}

void engine_detail::mask_range(SmMask& m, int lo, int hi) {
  hi = std::min(hi, 64 * kMaskWords);
  for (int i = lo; i < hi;) {
    const int w = i / 64, b = i % 64, n = std::min(hi - i, 64 - b);
    m[static_cast<std::size_t>(w)] |= (n == 64 ? ~uint64_t{0} : ((uint64_t{1} << n) - 1)) << b;
    i += n;
  }
}

int Engine::State::load(Pool& p, const std::vector<Piece>& pcs, const SimKernel& k, int sign) {
  std::vector<Span>& spans = p.spans;
  int occupied_delta = 0;
  for (const Piece& pc : pcs) {
    const std::size_t first = split_at(spans, pc.lo);
    const std::size_t last = split_at(spans, pc.hi);
    for (std::size_t i = first; i < last; ++i) {
      Span& sp = spans[i];
      const bool was = sp.blocks > 0;
      sp.blocks += sign * pc.count;
      sp.fit_for = nullptr;
      occupied_delta += (static_cast<int>(sp.blocks > 0) - static_cast<int>(was)) * (sp.hi - sp.lo);
      if (sp.blocks == 0) {  // drop accumulated rounding
        sp.used.fill(0);
        sp.warps = 0;
        continue;
      }
      for (int r = 0; r < kSmResources; ++r) sp.used[r] += sign * pc.count * k.use[r];
      sp.warps += sign * pc.count * k.warps;
    }
  }
  std::size_t out = 0;
  for (std::size_t i = 1; i < spans.size(); ++i) {
    if (same_load(spans[out], spans[i])) spans[out].hi = spans[i].hi;
    else spans[++out] = spans[i];
  }
  spans.resize(out + 1);
  auto holding = [&spans](int x) {
    return std::upper_bound(spans.begin(), spans.end(), x, [](int v, const Span& sp) { return v < sp.lo; }) - 1;
  };
  for (const Piece& pc : pcs) mask_range(p.changed, holding(pc.lo)->lo, holding(pc.hi - 1)->hi);
  return occupied_delta;
}

bool Engine::State::speed_stands(const Lane& l) const {
  const Pool& p = pools[groups[l.group].pool];
  if (p.all_changed || p.sms > 64 * kMaskWords) return false;
  for (int w = 0; w < kMaskWords; ++w)
    if (l.covers[static_cast<std::size_t>(w)] & p.changed[static_cast<std::size_t>(w)]) return false;
  return true;
}

int Engine::State::occupied_in(const std::vector<Span>& spans) {
  int n = 0;
  for (const Span& sp : spans)
    if (sp.blocks > 0) n += sp.hi - sp.lo;
  return n;
}

double Engine::State::busiest_warps(const Lane& l) const {
  const std::vector<Span>& spans = pools[groups[l.group].pool].spans;
  double most = 0;
  for (const Piece& pc : l.pieces) {
    auto it = std::upper_bound(spans.begin(), spans.end(), pc.lo, [](int v, const Span& sp) { return v < sp.lo; }) - 1;
    for (; it != spans.end() && it->lo < pc.hi; ++it) most = std::max(most, it->warps);
  }
  return most;
}

void Engine::State::place_wave(Active& a, int64_t blocks, int64_t resident, int64_t waves) {
  Pool& p = pools[a.pool];
  occupied += load(p, pieces, *a.k, 1);
  const int lid = alloc_lane();
  Lane& l = lanes[lid];
  l.entries.clear();
  l.pieces.assign(pieces.begin(), pieces.end());
  l.covers.fill(0);
  for (const Piece& pc : pieces) mask_range(l.covers, pc.lo, pc.hi);
  l.kernel = static_cast<int>(&a - actives.data());
  l.group = p.groups[0];
  l.v_at = 0;
  l.t_at = now;
  l.rate = l.speed = l.demand = 0;
  l.per_sm = 0;
  l.charge = 0;
  l.resident = resident;
  l.live = true;
  l.entries.push_back(Entry{static_cast<double>(waves), blocks, resident, 0, 0.0});
  groups[l.group].lanes.push_back(lid);
  a.lane_of.push_back(lid);
  int sms = 0;
  for (const Piece& pc : pieces) sms += pc.hi - pc.lo;
  a.to_dispatch -= blocks;
  a.resident += resident;
  a.max_resident = static_cast<int>(std::max<int64_t>(a.max_resident, a.resident));
  a.sms_used = std::max(a.sms_used, sms);
  a.waves += waves;
  if (a.start < 0) a.start = now;
}

bool Engine::State::dispatch_wave(Active& a) {
  const Pool& p = pools[a.pool];
  caps.clear();
  int64_t room = 0;
  int most = 0;
  for (const Span& sp : p.spans) {
    if (sp.fit_for != a.k) {  // the span's load changed, or another kernel asked last
      sp.fit = blocks_that_fit(*a.k, sp.used);
      sp.fit_for = a.k;
    }
    const int c = sp.fit;
    caps.push_back(c);
    room += static_cast<int64_t>(c) * (sp.hi - sp.lo);
    most = std::max(most, c);
  }
  if (room == 0) return false;
  pieces.clear();
  // Alone in its pool, the full waves before the last one are identical and nothing else can
  // dispatch meanwhile (first come, first served; blocks remain): one lane for all of them.
  if (groups[p.groups[0]].lanes.empty() && a.to_dispatch > 2 * room) {
    const int64_t k = (a.to_dispatch - 1) / room - 1;
    if (k >= 2) {
      pieces.push_back(Piece{0, p.sms, most});
      place_wave(a, k * room, room, k);
      return false;
    }
  }
  const int64_t n = std::min(a.to_dispatch, room);
  plan_rounds(p, n, most);
  place_wave(a, n, n, 1);
  return a.to_dispatch == 0;
}

void Engine::State::plan_rounds(const Pool& p, int64_t n, int most) {
  auto reach = [&](int rounds) {
    int64_t total = 0;
    for (std::size_t i = 0; i < p.spans.size(); ++i)
      total += static_cast<int64_t>(std::min(caps[i], rounds)) * (p.spans[i].hi - p.spans[i].lo);
    return total;
  };
  int full = 0, over = most + 1;  // reach(full) <= n < reach(over), or full == most
  while (over - full > 1) {
    const int mid = full + (over - full) / 2;
    (reach(mid) <= n ? full : over) = mid;
  }
  int64_t extra = n - reach(full);
  auto add = [&](int lo, int hi, int count) {
    if (count <= 0 || lo >= hi) return;
    if (!pieces.empty() && pieces.back().hi == lo && pieces.back().count == count) pieces.back().hi = hi;
    else pieces.push_back(Piece{lo, hi, count});
  };
  for (std::size_t i = 0; i < p.spans.size(); ++i) {
    const Span& sp = p.spans[i];
    const int base = std::min(caps[i], full);
    const int take = caps[i] > full ? static_cast<int>(std::min<int64_t>(extra, sp.hi - sp.lo)) : 0;
    extra -= take;
    add(sp.lo, sp.lo + take, base + 1);
    add(sp.lo + take, sp.hi, base);
  }
}

void Engine::State::finish_wave(int lid) {
  Lane& l = lanes[lid];
  Active& a = actives[l.kernel];
  Pool& p = pools[a.pool];
  const Entry& e = l.entries.front();
  occupied += load(p, l.pieces, *a.k, -1);
  a.resident -= e.resident;
  a.unfinished -= e.blocks;
  p.dirty = true;
  l.entries.clear();
  release_lane(lid);
}

void Engine::State::dispatch(int pool) {
  for (int id : pools[pool].queue) {
    Active& a = actives[id];
    if (a.to_dispatch == 0) continue;
    const bool all = mode == SimMode::block ? dispatch_blocks(a) : dispatch_wave(a);
    if (!all) return;  // first come, first served: later kernels wait for this one's blocks
  }
}

void Engine::State::release_lane(int lid) {
  Lane& l = lanes[lid];
  Group& g = groups[l.group];
  g.lanes.erase(std::find(g.lanes.begin(), g.lanes.end(), lid));
  if (g.lanes.empty()) {  // drop accumulated rounding
    g.used.fill(0);
    g.warps = 0;
    if (mode == SimMode::block) --occupied;
  }
  Active& a = actives[l.kernel];
  if (mode == SimMode::block) a.lane_of[groups[l.group].local] = -1;
  else a.lane_of.erase(std::find(a.lane_of.begin(), a.lane_of.end(), lid));
  l.live = false;
  l.entries.clear();
  free_lanes.push_back(lid);
}

}  // namespace dstack::sim
