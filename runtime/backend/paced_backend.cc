#include "runtime/backend/paced_backend.h"

#include <fmt/format.h>

#include <stdexcept>

namespace dstack {

PacedBackend::PacedBackend(std::unique_ptr<Backend> simulated, WallClock::Options clock)
    : inner_(std::move(simulated)), clock_(clock) {
  if (!inner_) throw std::invalid_argument("paced backend: no backend to pace");
  if (inner_->in_flight() != 0 || inner_->now() != 0)
    throw std::invalid_argument("paced backend: the simulated backend must start idle at time 0");
  report_.waiting = fmt::format("sleeps until the simulated completion or the deadline (the last {:.0f} us yielding)",
                                clock.spin_s * 1e6);
}

std::string PacedBackend::describe() const { return inner_->describe() + ", paced to the wall clock"; }

void PacedBackend::add_model(const std::string& name, std::shared_ptr<const models::Graph> graph) {
  inner_->add_model(name, std::move(graph));
}

void PacedBackend::catch_up() {
  const double wall = clock_.now();
  if (wall <= inner_->now()) return;
  while (auto c = inner_->run_until(wall)) finished_.push_back(*c);
}

RunCompletion PacedBackend::take_finished() {
  RunCompletion c = finished_.front();
  finished_.pop_front();
  report_.wake_after_completion_s.push_back(clock_.now() - c.finished_s);
  return c;
}

ResolvedLayout PacedBackend::set_layout(const PartitionLayout& layout) {
  catch_up();
  if (!finished_.empty())
    throw std::logic_error(fmt::format("{} runs have finished but were not collected; collect them with run_until "
                                       "before changing the partition layout",
                                       finished_.size()));
  return inner_->set_layout(layout);
}

RunId PacedBackend::submit(const RunRequest& request) {
  catch_up();  // the run is issued at the wall time the caller submits it
  return inner_->submit(request);
}

std::optional<RunCompletion> PacedBackend::run_until(double until_s) {
  catch_up();
  if (!finished_.empty()) return take_finished();
  if (until_s <= clock_.now()) {
    report_.wake_after_deadline_s.push_back(clock_.now() - until_s);
    return std::nullopt;
  }
  // Nothing can be submitted while the caller waits here, so the simulator may run ahead to the
  // next completion (or the deadline) and the wall clock then catches up with it.
  std::optional<RunCompletion> next = inner_->run_until(until_s);
  if (!next) {
    clock_.wait_until(until_s);
    report_.wake_after_deadline_s.push_back(clock_.now() - until_s);
    return std::nullopt;
  }
  clock_.wait_until(next->finished_s);
  finished_.push_back(*next);
  return take_finished();
}

}  // namespace dstack
