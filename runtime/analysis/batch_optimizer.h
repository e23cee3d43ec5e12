#pragma once
// The batch optimizer (../shared/PAPER.md, "Batch optimizer"): for one model with a latency SLO and
// an arrival rate, the (batch, SMs) that costs the least SM-time per request while the worst wait
// plus the run stays within the SLO and a batch keeps up with the arrivals. The space (allowed SMs ×
// batches 1..max) is small, so it is enumerated exactly. CPU only; the latency comes from the
// parallelism model or a profile through a function.
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace dstack::analysis {

// Latency in seconds of one batch of `batch` on `sms` SMs.
using LatencyFn = std::function<double(int64_t batch, int sms)>;

struct BatchProblem {
  double slo_s = 0;                  // latency SLO of a request, arrival to result
  double rate_rps = 0;               // arrival rate; 0 = unknown (the latency bound alone decides)
  std::optional<double> cycle_s;     // the scheduler's cycle C, when the model shares time with others
  int64_t max_batch = 64;
  std::vector<int> sms;              // candidate partition sizes (allowed sizes of the device)
};

// What decided the choice: the constraint without which a cheaper (batch, SMs) would have won.
enum class Binding { latency, rate, max_batch, cost };
const char* binding_name(Binding b);

struct BatchChoice {
  int64_t batch = 0;
  int sms = 0;
  double latency_s = 0;            // T(b, S)
  double requests_per_run = 0;     // min(b, the arrivals a batch can gather in time); b when rate is 0
  double capacity_rps = 0;         // b / T: what the partition serves running back to back
  double sm_seconds_per_request = 0;  // S · T / requests_per_run: the objective
  Binding binding = Binding::cost;
  std::string why;                 // one sentence naming the binding constraint with numbers
};

// No (batch, SMs) meets the SLO, or none keeps up with the rate. The message says why and what
// would work (the smallest feasible SLO, or the highest sustainable rate).
class InfeasibleBatch : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// The rules, with T = latency(b, S):
//  - latency: with a cycle C, C + T <= SLO (a request waits at most a cycle, then runs);
//    without one, 2·T <= SLO (it waits at most for the batch in progress, then runs in the next);
//  - rate: with a cycle, b >= rate·C (one run per cycle absorbs the cycle's arrivals); without,
//    b >= rate·T (back-to-back batches keep up);
//  - objective: S·T / r(b), r(b) = min(b, max(1, rate·W)) the requests a batch really carries, W = C
//    or SLO − T (the longest a batch's first request can wait); r(b) = b when the rate is 0;
//  - ties (within 1e-9 relative) go to fewer SMs, then to the smaller batch.
// Throws InfeasibleBatch as above, std::invalid_argument for a non-positive SLO, max batch or
// cycle, a negative rate, or no candidate SMs.
BatchChoice choose_batch(const BatchProblem& problem, const LatencyFn& latency);

}  // namespace dstack::analysis
