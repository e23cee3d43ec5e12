// The event core of the simulated GPU (engine_state.h): runs and their kernels, the event loop, rates
// and the DRAM split.
#include "runtime/sim/engine_state.h"

#include <functional>

namespace dstack::sim {

void Engine::State::schedule_next(Run& r) {
  const auto& t = device.timing;
  const std::size_t i = r.next;
  const bool graph = r.dispatch == DispatchMode::graph;
  // Per-kernel: the host issues one launch after another; a graph is one launch for all.
  const double issued = graph ? r.timing.issue_s + t.graph_launch_us * 1e-6
                              : r.timing.issue_s + static_cast<double>(i + 1) * t.launch_overhead_us * 1e-6;
  const double gap = (graph ? t.graph_kernel_gap_us : t.kernel_gap_us) * 1e-6;
  r.next_ready = std::max(issued, r.prev_end + gap);
}

void Engine::State::activate(int run_id, Run& r) {
  const int id = alloc_active();
  Active& a = actives[id];
  a = Active{};
  a.run = run_id;
  a.index = static_cast<int>(r.next);
  a.k = &r.plan->kernels[r.next];
  a.pool = r.pool;
  a.to_dispatch = a.unfinished = a.k->blocks;
  a.ready = now;
  if (mode == SimMode::block) {
    a.lane_of.assign(pools[r.pool].sms, -1);
    a.touched.assign(pools[r.pool].sms, 0);
  }
  a.live = true;
  r.active = id;
  r.next_ready = kInf;
  pools[r.pool].queue.push_back(id);
  pools[r.pool].dirty = true;
}

void Engine::State::finish_kernel(int id) {
  Active& a = actives[id];
  Run& r = runs.at(a.run);
  if (r.record) {
    KernelTiming kt;
    kt.kernel = a.index;
    kt.ready_s = a.ready;
    kt.start_s = a.start;
    kt.end_s = now;
    kt.waves = a.waves;
    kt.sms_used = a.sms_used;
    kt.max_resident = a.max_resident;
    const auto& bt = a.bound_time;
    kt.bound = bt[1] >= bt[0] && bt[1] >= bt[2] ? Bound::memory : bt[0] >= bt[2] ? Bound::compute : Bound::latency;
    r.timing.kernels.push_back(kt);
  }
  if (!r.started) {
    r.started = true;
    r.timing.start_s = a.start;
  }
  auto& q = pools[a.pool].queue;
  q.erase(std::find(q.begin(), q.end(), id));
  a.live = false;
  free_actives.push_back(id);
  r.active = -1;
  r.prev_end = now;
  ++r.next;
  if (r.next < r.plan->kernels.size()) {
    schedule_next(r);
    if (r.memo && r.solo) {
      // Its bound is the next kernel's peak.
      if (r.memo->peak[r.next] > r.bound_used) check_dirty = true;
      try_resume(a.run, r);
    }
  } else {
    r.timing.end_s = now;
    completed.push_back(a.run);
  }
}

void Engine::State::add_replayed_demand() {
  rep_runs.clear();
  for (auto& [id, r] : runs) {
    if (!r.replayed) continue;
    advance_segment(r);
    rep_runs.push_back(&r);
    demand.push_back(r.memo->seg_d[r.seg]);
    weight.push_back(r.memo->seg_w[r.seg]);
  }
}

void Engine::State::pace_replayed() {
  const std::size_t first = kernel_ids.size();
  check_at = kInf;
  for (std::size_t j = 0; j < rep_runs.size(); ++j) {
    Run& r = *rep_runs[j];
    const Memo& m = *r.memo;
    const double speed = factor[first + j] / m.seg_f[r.seg];
    if (speed != r.speed) set_speed(r, speed);
    if (speed < 1 && !r.slowed) {
      r.slowed = true;
      ++throttled;
    }
    if (r.seg + 1 < m.seg_t.size()) check_at = std::min(check_at, when(r, m.seg_t[r.seg + 1]));
  }
}

void Engine::State::recompute_rates() {
  const double sat = device.model.warps_to_saturate_sm;
  const double port = device.sm_dram_bytes_per_s();
  kernel_ids.clear();
  demand.clear();
  weight.clear();
  for (std::size_t id = 0; id < actives.size(); ++id) {
    Active& a = actives[id];
    if (!a.live || a.resident == 0) continue;
    a.factor = static_cast<double>(kernel_ids.size());  // index into the scratch arrays for now
    kernel_ids.push_back(static_cast<int>(id));
    demand.push_back(0);
    weight.push_back(static_cast<double>(a.resident) * a.k->warps);
  }
  for (Lane& l : lanes) {
    if (!l.live) continue;
    const Active& a = actives[l.kernel];
    if (l.speed > 0 && (!pools[a.pool].dirty || (mode == SimMode::fast && speed_stands(l)))) {  // same load on its SMs
      demand[static_cast<std::size_t>(a.factor)] += l.demand;
      continue;
    }
    const double sm_warps =
        mode == SimMode::fast ? busiest_warps(l) : groups[l.group].warps + (l.per_sm - l.charge) * a.k->warps;
    const BlockRate br = block_rate(a.k->work, a.k->warps, sm_warps, sat, port);
    l.speed = 1.0 / br.time_s;
    l.base_bound = br.bound;
    l.demand = a.k->work.bytes * l.speed * static_cast<double>(l.resident);
    demand[static_cast<std::size_t>(a.factor)] += l.demand;
  }
  if (profiling)
    for (std::size_t i = 0; i < kernel_ids.size(); ++i) {
      double& p = kernel_peak[actives[kernel_ids[i]].index];
      p = std::max(p, demand[i]);
    }
  if (fluid) add_replayed_demand();
  share_bandwidth(demand, weight, device.dram_bytes_per_s(), factor, order);
  for (std::size_t i = 0; i < kernel_ids.size(); ++i) actives[kernel_ids[i]].factor = factor[i];
  if (profile) record_segment();
  if (fluid) pace_replayed();
  for (Lane& l : lanes) {
    if (!l.live) continue;
    Active& a = actives[l.kernel];
    const double rate = l.speed * a.factor;
    if (rate != l.rate) {
      l.v_at = work_done(l);
      l.t_at = now;
      l.rate = rate;
    }
    l.bound = a.factor < 1 ? Bound::memory : l.base_bound;
  }
  // A kernel's bound is that of its most populated lane.
  for (int id : kernel_ids) {
    Active& a = actives[id];
    int64_t best = -1;
    for (int lid : a.lane_of)
      if (lid >= 0 && lanes[lid].resident > best) {
        best = lanes[lid].resident;
        a.bound = lanes[lid].bound;
      }
  }
}

void Engine::State::advance(double dt) {
  if (dt <= 0) return;
  occupied_sm_s += occupied * dt;
  for (Active& a : actives)
    if (a.live && a.resident > 0) a.bound_time[static_cast<int>(a.bound)] += dt;
}

bool Engine::State::done(const Lane& l) const {
  if (l.rate <= 0) return false;
  const double t = finish_time(l);
  return t <= now || t - now <= 1e-12 * std::max(now, 1e-6);
}

void Engine::State::process() {
  if (replay_on)
    for (auto& [id, r] : runs)
      if (r.replayed && r.replay_end <= now) finish_replayed(id, r);
  bool any_finished = false;
  for (std::size_t lid = 0; lid < lanes.size(); ++lid) {
    Lane& l = lanes[lid];
    if (!l.live) continue;
    if (mode == SimMode::fast) {
      if (done(l)) {
        finish_wave(static_cast<int>(lid));
        any_finished = true;
      }
      continue;
    }
    Active& a = actives[l.kernel];
    Group& g = groups[l.group];
    while (!l.entries.empty() && done(l)) {
      const Entry e = l.entries.front();
      l.entries.pop_front();
      for (int r = 0; r < kSmResources; ++r) g.used[r] -= e.charge * a.k->use[r];
      g.warps -= e.charge * a.k->warps;
      l.per_sm -= e.per_sm;
      l.charge -= e.charge;
      l.resident -= e.resident;
      a.resident -= e.resident;
      a.unfinished -= e.blocks;
      any_finished = true;
      pools[g.pool].dirty = true;
    }
    if (l.entries.empty()) release_lane(static_cast<int>(lid));
  }
  if (any_finished)
    for (std::size_t id = 0; id < actives.size(); ++id)
      if (actives[id].live && actives[id].unfinished == 0) finish_kernel(static_cast<int>(id));
  for (auto& [id, r] : runs) {
    if (r.active >= 0 || r.next_ready > now) continue;
    if (r.plan->kernels.empty()) {  // nothing to launch: done once issued
      r.next_ready = kInf;
      r.timing.start_s = r.timing.end_s = now;
      completed.push_back(id);
      continue;
    }
    activate(id, r);
  }
  for (std::size_t p = 0; p < pools.size(); ++p)
    if (pools[p].dirty) dispatch(static_cast<int>(p));
  if (replay_on && (check_dirty || check_at <= now)) update_check();
  recompute_rates();
  for (Pool& p : pools) {
    p.dirty = false;
    p.changed.fill(0);
    p.all_changed = false;
  }
}

void Engine::State::rebuild_due() {
  due.clear();
  for (std::size_t i = 0; i < lanes.size(); ++i)
    if (lanes[i].live && lanes[i].rate > 0) due.emplace_back(finish_time(lanes[i]), static_cast<int>(i));
  std::make_heap(due.begin(), due.end(), std::greater<>());
  runs_next = kInf;
  for (const auto& [id, r] : runs) {
    if (r.active < 0) runs_next = std::min(runs_next, r.next_ready);
    if (r.replayed) runs_next = std::min(runs_next, r.replay_end);
  }
  due_ok = true;
}

std::optional<int> Engine::State::step(double until) {
  due_ok = false;  // runs may have been started since the last call
  while (true) {
    if (!completed.empty()) {
      const int id = completed.front();
      completed.pop_front();
      auto it = runs.find(id);
      results[id] = std::move(it->second.timing);
      runs.erase(it);
      return id;
    }
    if (check_dirty) {
      update_check();
      recompute_rates();
      due_ok = false;
    }
    if (!due_ok) rebuild_due();
    double t_next = std::min(check_at, runs_next);
    if (!due.empty()) t_next = std::min(t_next, due.front().first);
    if (t_next == kInf || t_next > until) {
      if (until != kInf && until > now) {
        advance(until - now);
        now = until;
      }
      return std::nullopt;
    }
    t_next = std::max(t_next, now);
    advance(t_next - now);
    now = t_next;
    ++events;
    if (continue_lone_wave()) continue;
    process();
    due_ok = false;
    std::sort(completed.begin(), completed.end());  // one instant's completions, lowest run id first
  }
}

}  // namespace dstack::sim

namespace dstack::sim {

bool Engine::State::continue_lone_wave() {
  if (mode != SimMode::fast || profiling || check_at <= now) return false;
  if (runs_next <= now || due.empty()) return false;  // a run's launch or a replayed run's end is due
  const int lid = due.front().second;
  if (!done(lanes[static_cast<std::size_t>(lid)])) return false;
  // The next lane to finish after it (a heap's second smallest is one of the root's children).
  std::size_t second = 0;
  if (due.size() > 1) second = 1;
  if (due.size() > 2 && std::greater<>()(due[1], due[2])) second = 2;
  if (second > 0 && done(lanes[static_cast<std::size_t>(due[second].second)]))
    return false;  // two finish together: their room makes one wave
  Lane& l = lanes[static_cast<std::size_t>(lid)];
  Entry& e = l.entries.front();
  Active& a = actives[l.kernel];
  // With blocks left after the refill: once a kernel has none left, the next kernel in the queue may
  // use whatever room the head's blocks could not (first come, first served).
  if (l.entries.size() != 1 || e.resident != e.blocks || a.to_dispatch <= e.blocks) return false;
  // The head of its pool's queue (first come, first served), so the freed room is its own.
  const Pool& p = pools[a.pool];
  for (int id : p.queue) {
    if (actives[id].to_dispatch == 0) continue;
    if (id != l.kernel) return false;
    break;
  }
  // Alone in the pool, dispatch_wave would place the kernel's remaining full waves as one lane.
  if (groups[p.groups[0]].lanes.size() == 1) return false;
  // Removing the wave frees exactly its own blocks' room on its SMs and nowhere else (the head
  // kernel had no room before), so the kernel would place the same wave there again: the loads, and
  // so every rate, stay as they are, and the lane runs one more wave.
  // Re-anchored now and moved to the end of the kernel's and the group's lanes, as a newly placed
  // wave is, so the arithmetic and every later tie-break are those of placing it again.
  l.v_at = 0;
  l.t_at = now;
  e.finish_v = 1.0;
  auto to_end = [lid](std::vector<int>& v) {
    const auto it = std::find(v.begin(), v.end(), lid);
    std::rotate(it, it + 1, v.end());
  };
  to_end(a.lane_of);
  to_end(groups[l.group].lanes);
  a.to_dispatch -= e.blocks;
  a.unfinished -= e.blocks;
  a.waves += 1;
  std::pop_heap(due.begin(), due.end(), std::greater<>());
  due.back().first = finish_time(l);
  std::push_heap(due.begin(), due.end(), std::greater<>());
  return true;
}

}  // namespace dstack::sim
