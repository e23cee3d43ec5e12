#pragma once
// A simulated GPU run in real time (`dstack run --realtime`): the wrapped backend (the simulator)
// still decides when every run finishes, but its clock follows the wall clock. now() is wall time;
// a submit happens at the wall time the loop makes it, so the policy's decision time and a late
// wake-up delay dispatch exactly as they do on a GPU; run_until sleeps (WallClock, the CUDA
// backend's waiting code) until the simulated completion or the deadline, whichever is first, and
// reports how late it woke. Not deterministic: the wall clock takes part. CPU only.
#include <deque>
#include <memory>

#include "runtime/backend/backend.h"
#include "runtime/backend/wall_clock.h"

namespace dstack {

class PacedBackend final : public Backend {
 public:
  // `simulated` must start idle at time 0 (a fresh SimBackend).
  explicit PacedBackend(std::unique_ptr<Backend> simulated, WallClock::Options clock = {});

  std::string describe() const override;
  bool simulated() const override { return true; }
  const SmPartitionGranularity& granularity() const override { return inner_->granularity(); }
  void add_model(const std::string& name, std::shared_ptr<const models::Graph> graph) override;
  ResolvedLayout set_layout(const PartitionLayout& layout) override;
  const ResolvedLayout& layout() const override { return inner_->layout(); }
  RunId submit(const RunRequest& request) override;
  double now() const override { return clock_.now(); }
  std::optional<RunCompletion> run_until(double until_s) override;
  int in_flight() const override { return inner_->in_flight() + static_cast<int>(finished_.size()); }
  // The simulator's counter at its own clock, which the serving loop stops at the window's ends.
  std::optional<double> occupied_sm_seconds() const override { return inner_->occupied_sm_seconds(); }
  std::optional<WallClockReport> wall_clock_report() const override { return report_; }

 private:
  // Brings the simulator's clock up to the wall clock, keeping the runs it finished on the way.
  void catch_up();
  // Hands back the oldest finished run, noting how late that is.
  RunCompletion take_finished();

  std::unique_ptr<Backend> inner_;
  WallClock clock_;
  std::deque<RunCompletion> finished_;  // finished in simulated time, not yet returned
  WallClockReport report_;
};

}  // namespace dstack
