// The simulated GPU's public interface (engine.h) over its state (engine_state.h).
#include "runtime/sim/engine.h"

#include "runtime/sim/engine_state.h"

namespace dstack::sim {

const char* sim_mode_name(SimMode m) { return m == SimMode::block ? "block" : "fast"; }

SimMode parse_sim_mode(const std::string& s) {
  if (s == "block") return SimMode::block;
  if (s == "fast") return SimMode::fast;
  throw std::invalid_argument("unknown simulation mode '" + s + "'; choose block (every thread block) or fast (waves)");
}

Engine::Engine(const DeviceSpec& device, SimMode mode) : s_(std::make_unique<State>(std::make_shared<const DeviceSpec>(device), mode)) {}
Engine::~Engine() = default;

SimMode Engine::mode() const { return s_->mode; }
const DeviceSpec& Engine::device() const { return s_->device; }

int Engine::add_pool(const std::vector<int>& sm_ids) {
  if (sm_ids.empty()) throw std::invalid_argument("a pool needs at least one SM");
  std::vector<int> sorted = sm_ids;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const int sm = sorted[i];
    if (sm < 0 || sm >= s_->device.sm_count)
      throw std::invalid_argument("SM " + std::to_string(sm) + " does not exist on " + s_->device.name + " (SMs 0 to " +
                                  std::to_string(s_->device.sm_count - 1) + ")");
    if (s_->group_of_sm[sm] >= 0 || (i > 0 && sorted[i - 1] == sm))
      throw std::invalid_argument("SM " + std::to_string(sm) + " is already in a partition; partitions are disjoint");
  }
  Pool p;
  p.sms = static_cast<int>(sorted.size());
  const int pool_id = static_cast<int>(s_->pools.size());
  if (s_->mode == SimMode::block) {
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      Group g;
      g.local = static_cast<int>(i);
      g.pool = pool_id;
      p.groups.push_back(static_cast<int>(s_->groups.size()));
      s_->group_of_sm[sorted[i]] = static_cast<int>(s_->groups.size());
      s_->groups.push_back(g);
    }
  } else {
    p.spans.push_back(Span{0, p.sms, {}, 0, 0});
    Group g;
    g.sms = p.sms;
    g.pool = pool_id;
    p.groups.push_back(static_cast<int>(s_->groups.size()));
    for (int sm : sorted) s_->group_of_sm[sm] = static_cast<int>(s_->groups.size());
    s_->groups.push_back(g);
  }
  s_->pools.push_back(std::move(p));
  return pool_id;
}

void Engine::clear_pools() {
  if (!idle()) throw std::logic_error("the simulated GPU has work in flight; wait for it before changing partitions");
  s_->pools.clear();
  s_->groups.clear();
  s_->lanes.clear();
  s_->free_lanes.clear();
  s_->actives.clear();
  s_->free_actives.clear();
  std::fill(s_->group_of_sm.begin(), s_->group_of_sm.end(), -1);
  s_->occupied = 0;  // idle: nothing was resident anyway
}

int Engine::pool_sms(int pool) const { return s_->pools.at(pool).sms; }

int Engine::start_run(std::shared_ptr<const SimPlan> plan, int pool, DispatchMode dispatch, double issue_s,
                      bool record_kernels) {
  if (pool < 0 || pool >= static_cast<int>(s_->pools.size()))
    throw std::invalid_argument("partition " + std::to_string(pool) + " does not exist (there are " +
                                std::to_string(s_->pools.size()) + ")");
  return s_->new_run(std::move(plan), pool, dispatch, issue_s, record_kernels);
}

double Engine::now() const { return s_->now; }
double Engine::occupied_sm_seconds() const { return s_->occupied_sm_seconds(); }
std::optional<int> Engine::run_until(double until_s) { return s_->step(until_s); }

RunTiming Engine::take_result(int run) {
  auto it = s_->results.find(run);
  if (it == s_->results.end()) throw std::invalid_argument("run " + std::to_string(run) + " has not completed");
  RunTiming t = std::move(it->second);
  s_->results.erase(it);
  return t;
}

bool Engine::idle() const { return s_->runs.empty() && s_->completed.empty(); }
uint64_t Engine::events() const { return s_->events; }

void Engine::set_replay(bool on) {
  if (!idle()) throw std::logic_error("the simulated GPU has work in flight; switch replay while idle");
  s_->replay_on = on;
}
bool Engine::replay() const { return s_->replay_on && s_->mode == SimMode::fast; }
uint64_t Engine::replayed_runs() const { return s_->replayed; }
uint64_t Engine::materialized_runs() const { return s_->materialized; }
uint64_t Engine::throttled_runs() const { return s_->throttled; }

}  // namespace dstack::sim
