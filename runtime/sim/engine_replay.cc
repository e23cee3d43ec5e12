// Replay (engine_state.h, engine.h): runs alone in their pool follow cached isolated timelines, slowed
// as fluids when DRAM is oversubscribed, and fall back to events when they must.
#include "runtime/sim/engine_state.h"

namespace dstack::sim {

int Engine::State::add_fast_pool(int sms) {
  Group g;
  g.sms = sms;
  g.pool = static_cast<int>(pools.size());
  Pool p;
  p.sms = sms;
  p.spans.push_back(Span{0, sms, {}, 0, 0});
  p.groups.push_back(static_cast<int>(groups.size()));
  groups.push_back(g);
  pools.push_back(std::move(p));
  return static_cast<int>(pools.size()) - 1;
}

int Engine::State::new_run(std::shared_ptr<const SimPlan> plan, int pool, DispatchMode dispatch, double issue_s, bool record) {
  const int id = next_run++;
  Run r;
  r.plan = std::move(plan);
  r.pool = pool;
  r.dispatch = dispatch;
  r.record = record;
  r.timing.issue_s = std::max(issue_s, now);
  schedule_next(r);
  if (r.plan->kernels.empty()) r.next_ready = r.timing.issue_s;
  Run& in = runs.emplace(id, std::move(r)).first->second;
  if (replay_on && mode == SimMode::fast && !in.plan->kernels.empty()) start_replay(id, in);
  return id;
}

const Memo& Engine::State::memo_for(const std::shared_ptr<const SimPlan>& plan, int sms, DispatchMode dispatch) {
  const auto key = std::make_tuple(plan.get(), sms, static_cast<int>(dispatch));
  if (auto it = memos.find(key); it != memos.end()) return it->second;
  Memo m;
  m.seg_t = {0.0};
  m.seg_d = {0.0};
  m.seg_w = {0.0};
  m.seg_f = {1.0};
  m.seg_o = {0.0};
  m.seg_k = {0};
  State sc(device_own, SimMode::fast);
  sc.replay_on = false;
  sc.profiling = true;
  sc.profile = &m;
  sc.kernel_peak.assign(plan->kernels.size(), 0.0);
  const int id = sc.new_run(plan, sc.add_fast_pool(sms), dispatch, 0.0, /*record=*/true);
  sc.step(kInf);
  m.plan = plan;
  m.timing = std::move(sc.results.at(id));
  m.peak = std::move(sc.kernel_peak);
  m.seg_c.assign(m.seg_t.size(), 0.0);
  for (std::size_t j = 1; j < m.seg_t.size(); ++j)
    m.seg_c[j] = m.seg_c[j - 1] + m.seg_o[j - 1] * (m.seg_t[j] - m.seg_t[j - 1]);
  const std::size_t n = plan->kernels.size();
  m.seg_peak_from.assign(m.seg_d.size() + 1, 0.0);
  for (std::size_t j = m.seg_d.size(); j-- > 0;) m.seg_peak_from[j] = std::max(m.seg_peak_from[j + 1], m.seg_d[j]);
  m.chunk_d.assign((m.seg_d.size() + kChunk - 1) / kChunk, 0.0);
  for (std::size_t j = 0; j < m.seg_d.size(); ++j) m.chunk_d[j / kChunk] = std::max(m.chunk_d[j / kChunk], m.seg_d[j]);
  m.min_slack.assign(n + 1, kInf);
  {
    Run probe;
    probe.dispatch = dispatch;
    for (std::size_t j = n; j-- > 1;) {
      probe.next = j;
      probe.prev_end = -kInf;
      sc.schedule_next(probe);  // the launch's issue alone (timeline issued at 0)
      const double gap = (dispatch == DispatchMode::graph ? device.timing.graph_kernel_gap_us
                                                          : device.timing.kernel_gap_us) * 1e-6;
      m.min_slack[j] = std::min(m.min_slack[j + 1], m.timing.kernels[j - 1].end_s + gap - probe.next_ready);
    }
  }
  return memos.emplace(key, std::move(m)).first->second;
}

void Engine::State::record_segment() {
  Memo& m = *profile;
  double d = 0, w = 0, f = 1;
  const double o = occupied;
  int k = m.seg_k.back();
  if (!kernel_ids.empty()) {
    d = demand[0];
    w = weight[0];
    f = factor[0];
    k = actives[kernel_ids[0]].index;
  } else if (!runs.empty()) {
    k = static_cast<int>(runs.begin()->second.next);
  }
  if (m.seg_t.back() != now) {
    if (d == m.seg_d.back() && w == m.seg_w.back() && f == m.seg_f.back() && o == m.seg_o.back() &&
        k == m.seg_k.back())
      return;
    m.seg_t.push_back(now);
    m.seg_d.push_back(d);
    m.seg_w.push_back(w);
    m.seg_f.push_back(f);
    m.seg_o.push_back(o);
    m.seg_k.push_back(k);
    return;
  }
  m.seg_d.back() = d;
  m.seg_w.back() = w;
  m.seg_f.back() = f;
  m.seg_o.back() = o;
  m.seg_k.back() = k;
}

bool Engine::State::pool_alone(int id, int pool) const {
  for (const auto& [oid, o] : runs)
    if (oid != id && o.pool == pool) return false;
  return true;
}

double Engine::State::when(const Run& r, double p) {
  return r.speed == 1 ? (r.t_pos - r.pos_at) + p : r.t_pos + (p - r.pos_at) / r.speed;
}

std::size_t Engine::State::segment_at(const Memo& m, double p) {
  const auto after = std::upper_bound(m.seg_t.begin(), m.seg_t.end(), p);
  return after == m.seg_t.begin() ? 0 : static_cast<std::size_t>(after - m.seg_t.begin()) - 1;
}

double Engine::State::cached_occupied(const Memo& m, double p) {
  if (p <= 0) return 0;
  const std::size_t i = segment_at(m, p);
  return m.seg_c[i] + m.seg_o[i] * (p - m.seg_t[i]);
}

double Engine::State::replayed_occupied(const Run& r) const {
  const Memo& m = *r.memo;
  if (r.speed <= 0) return m.seg_o[segment_at(m, r.pos_at)] * (now - r.t_pos);  // stalled, still resident
  const double p = std::min(position(r), m.timing.end_s);
  return (cached_occupied(m, p) - cached_occupied(m, r.pos_at)) / r.speed;
}

double Engine::State::occupied_sm_seconds() const {
  double total = occupied_sm_s;
  for (const auto& [id, r] : runs)
    if (r.replayed) total += replayed_occupied(r);
  return total;
}

void Engine::State::begin_replay(Run& r, double p) {
  const auto& seg_t = r.memo->seg_t;
  r.replayed = true;
  r.pos_at = p;
  r.t_pos = now;
  r.speed = 1;
  const auto after = std::upper_bound(seg_t.begin(), seg_t.end(), p);  // p < 0 before its issue
  r.seg = after == seg_t.begin() ? 0 : static_cast<std::size_t>(after - seg_t.begin()) - 1;
  r.replay_end = when(r, r.memo->timing.end_s);
  r.next_ready = kInf;
  check_dirty = true;
  ++replayed;
}

void Engine::State::advance_segment(Run& r) const {
  const auto& seg_t = r.memo->seg_t;
  while (r.seg + 1 < seg_t.size() && when(r, seg_t[r.seg + 1]) <= now) ++r.seg;
}

void Engine::State::set_speed(Run& r, double speed) {
  settle_occupied(r);
  const double p = position(r);
  r.pos_at = r.seg > 0 ? std::max(p, r.memo->seg_t[r.seg]) : p;  // not before its segment by rounding
  r.t_pos = now;
  r.speed = speed;
  r.replay_end = when(r, r.memo->timing.end_s);
}

void Engine::State::try_resume(int id, Run& r) {
  if (!r.solo || r.active >= 0 || !pool_alone(id, r.pool)) return;
  const Memo& m = *r.memo;
  const std::size_t i = r.next;  // kernel i - 1 just ended
  if (i == 0 || i >= m.timing.kernels.size()) return;
  const double base = r.prev_end - m.timing.kernels[i - 1].end_s;
  if (m.min_slack[i] < 0 || base - r.timing.issue_s + m.min_slack[i] < 0) return;
  r.replay_from = i;
  begin_replay(r, now - base);
}

void Engine::State::start_replay(int id, Run& r) {
  r.memo = &memo_for(r.plan, pools[r.pool].sms, r.dispatch);
  bool alone = true;
  for (auto& [oid, o] : runs) {
    if (oid == id || o.pool != r.pool) continue;
    alone = false;
    o.solo = false;
    if (o.replayed) materialize(oid, o);
  }
  r.solo = alone;
  if (alone) {
    r.replay_from = 0;
    // Nothing asks DRAM before its first kernel starts, so nothing slows it until then.
    r.timing.start_s = r.timing.issue_s + r.memo->timing.start_s;
    begin_replay(r, now - r.timing.issue_s);
  }
  check_dirty = true;
}

void Engine::State::record_cached(Run& r, std::size_t from, std::size_t to, double shift) {
  if (!r.record) return;
  const auto& ks = r.memo->timing.kernels;
  for (std::size_t j = from; j < to; ++j) {
    KernelTiming k = ks[j];
    k.ready_s += shift;
    k.start_s += shift;
    k.end_s += shift;
    r.timing.kernels.push_back(k);
  }
}

void Engine::State::finish_replayed(int id, Run& r) {
  const Memo& m = *r.memo;
  settle_occupied(r);
  r.timing.end_s = r.replay_end;
  record_cached(r, r.replay_from, m.timing.kernels.size(), r.t_pos - r.pos_at);
  r.replayed = false;
  r.started = true;
  r.next = r.plan->kernels.size();
  r.next_ready = kInf;
  completed.push_back(id);
}

void Engine::State::materialize(int id, Run& r) {
  const Memo& m = *r.memo;
  const auto& ks = m.timing.kernels;
  const double elapsed = position(r);
  const double shift = now - elapsed;
  std::size_t k = std::max(static_cast<std::size_t>(m.seg_k[r.seg]), r.replay_from);
  while (k > r.replay_from && ks[k - 1].end_s > elapsed) --k;
  while (k < ks.size() && ks[k].end_s <= elapsed) ++k;
  ++materialized;
  check_dirty = true;
  if (k >= ks.size()) {  // ended within rounding of now
    finish_replayed(id, r);
    return;
  }
  State sc(device_own, SimMode::fast);
  sc.replay_on = false;
  const int sid = sc.new_run(r.plan, sc.add_fast_pool(pools[r.pool].sms), r.dispatch, 0.0, r.record);
  {
    Run& s0 = sc.runs.at(sid);
    s0.next = k;
    s0.prev_end = k > 0 ? ks[k - 1].end_s : -kInf;
    s0.started = k > 0;
    s0.timing.start_s = m.timing.start_s;
    sc.schedule_next(s0);
  }
  const auto done_id = sc.step(elapsed);
  if (done_id) {
    finish_replayed(id, r);
    return;
  }
  record_cached(r, r.replay_from, k, shift);
  settle_occupied(r);
  r.replayed = false;
  const Run& s = sc.runs.at(sid);
  r.next = s.next;
  r.next_ready = s.next_ready + shift;
  r.prev_end = s.prev_end + shift;
  if (!r.started && s.started) r.timing.start_s = s.timing.start_s + shift;
  r.started = s.started;
  if (r.record)
    for (KernelTiming kt : s.timing.kernels) {
      kt.ready_s += shift;
      kt.start_s += shift;
      kt.end_s += shift;
      r.timing.kernels.push_back(kt);
    }
  r.active = -1;
  if (s.active < 0) return;
  const Active& sa = sc.actives[s.active];
  const int aid = alloc_active();
  Active& a = actives[aid];
  a = sa;
  a.run = id;
  a.pool = r.pool;
  a.ready += shift;
  if (a.start >= 0) a.start += shift;
  a.lane_of.clear();
  Group& g = groups[pools[r.pool].groups[0]];
  for (int slid : sa.lane_of) {
    const int lid = alloc_lane();
    Lane& l = lanes[lid];
    l = sc.lanes[slid];
    l.kernel = aid;
    l.group = pools[r.pool].groups[0];
    l.t_at += shift;
    g.lanes.push_back(lid);
    a.lane_of.push_back(lid);
  }
  occupied += occupied_in(sc.pools[0].spans) - occupied_in(pools[r.pool].spans);
  pools[r.pool].spans = sc.pools[0].spans;
  pools[r.pool].all_changed = true;
  pools[r.pool].queue.push_back(aid);
  r.active = aid;
}

bool Engine::State::may_slow(const Run& r) const {
  const Memo& m = *r.memo;
  const std::size_t k = static_cast<std::size_t>(m.seg_k[r.seg]);
  const double delay = now - position(r) - r.timing.issue_s;
  return !r.record && m.min_slack[std::min(k + 1, m.min_slack.size() - 1)] + delay >= 0;
}

void Engine::State::update_check() {
  check_dirty = false;
  check_at = kInf;
  const double cap = device.dram_bytes_per_s() * (1 - 1e-9);
  std::vector<double>& pool_bound = chk_bound;
  std::vector<char>& pool_shared = chk_shared;
  pool_bound.assign(pools.size(), 0.0);
  pool_shared.assign(pools.size(), 0);
  rep_runs.clear();
  for (auto& [id, r] : runs) {
    if (r.replayed) {
      advance_segment(r);
      rep_runs.push_back(&r);
      continue;
    }
    if (r.next >= r.plan->kernels.size()) continue;  // completed
    // Alone in its pool since it started, a run asks at most its current (or next) kernel's
    // peak until that kernel ends (which brings the check up to date).
    if (!r.solo || !r.memo) {
      pool_shared[r.pool] = 1;
    } else {
      r.bound_used = r.memo->peak[r.next];
      pool_bound[r.pool] += r.bound_used;
    }
  }
  double fixed = 0;
  for (std::size_t p = 0; p < pools.size(); ++p)
    fixed += pool_shared[p] ? static_cast<double>(pools[p].sms) * device.sm_dram_bytes_per_s() : pool_bound[p];
  double now_level = fixed, peaks = fixed;
  for (const Run* r : rep_runs) {
    now_level += r->memo->seg_d[r->seg];
    peaks += r->memo->seg_peak_from[r->seg];
  }
  if (now_level > cap && !rep_runs.empty()) {
    enter_fluid();
    return;
  }
  fluid = false;
  for (Run* r : rep_runs)
    if (r->speed != 1) set_speed(*r, 1.0);
  if (rep_runs.empty() || peaks <= cap) return;
  sweep(fixed, cap);
}

void Engine::State::enter_fluid() {
  fluid = true;
  check_at = now;  // recompute_rates sets their next boundary
  for (auto& [id, r] : runs)
    if (r.replayed && !may_slow(r)) materialize(id, r);
}

void Engine::State::sweep(double fixed, double cap) {
  auto& cs = chk_cur;
  cs.clear();
  // Up to the first replayed run's end: the running set changes there (a serving loop starts the
  // next batch), which checks again anyway.
  double horizon = kInf;
  for (const Run* r : rep_runs) {
    const Memo& m = *r->memo;
    cs.push_back(Cursor{m.seg_t.data(), m.seg_d.data(), m.chunk_d.data(), m.seg_t.size(), r->t_pos - r->pos_at,
                        r->seg, false});
    horizon = std::min(horizon, r->replay_end);
  }
  double t = now;
  bool tested = true;  // the exact level at t is known to be within the cap
  // At most this many windows and segment steps per check; past them, a re-check at that instant.
  int budget = 1024;
  while (true) {
    double end = horizon, bound = fixed;
    for (const Cursor& c : cs) {
      end = std::min(end, c.chunk_end());
      bound += c.chunk_peak();
    }
    if (bound > cap && !walk_window(t, end, tested, fixed, cap, budget)) return;
    if (end >= horizon || --budget < 0) {
      check_at = std::max(end, now);
      return;
    }
    t = end;
    for (Cursor& c : cs) c.advance(t);
    tested = false;
  }
}

bool Engine::State::walk_window(double t, double end, bool tested, double fixed, double cap, int& budget) {
  auto& cs = chk_cur;
  for (Cursor& c : cs) c.fine = c.chunk_peak() > 0.5 * (cap - fixed);
  bool all = false;
  auto level = [&] {
    double sum = fixed;
    for (const Cursor& c : cs) sum += c.fine ? c.seg_d[c.seg] : c.chunk_peak();
    return sum;
  };
  // Walks every run from `at` on (each at its segment there); true when the level exceeds the cap.
  auto refine = [&](double at) {
    for (Cursor& c : cs)
      if (!c.fine) {
        c.advance(at);
        c.fine = true;
      }
    all = true;
    return level() > cap;
  };
  if (level() > cap && refine(t) && !tested) {
    check_at = std::max(t, now);
    return false;
  }
  while (true) {
    double bt = kInf;
    for (const Cursor& c : cs)
      if (c.fine) bt = std::min(bt, c.next());
    if (bt >= end) return true;
    if (--budget < 0) {
      check_at = std::max(bt, now);
      return false;
    }
    for (Cursor& c : cs)
      if (c.fine && c.next() == bt) ++c.seg;
    if (level() > cap && (all || refine(bt))) {
      check_at = std::max(bt, now);
      return false;
    }
  }
}

}  // namespace dstack::sim
