#pragma once
// The Azure Functions 2019 trace (Shahrad et al., "Serverless in the Wild", USENIX ATC'20), in the
// format of its per-minute invocation counts: header `HashOwner,HashApp,HashFunction,Trigger,1,...,1440`,
// one row per function, columns 1..1440 its invocations in each minute of the day. Replayed the way
// AlpaServe does: counts scaled by a rate factor, each minute's arrivals spread within the minute with a
// burstiness scaled by a cv factor.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/serve/arrivals.h"

namespace dstack::serve {

inline constexpr int kAzureMinutesPerDay = 1440;

struct AzureFunctionCounts {
  std::string owner;
  std::string app;
  std::string function;
  std::string trigger;
  std::vector<int64_t> per_minute;  // kAzureMinutesPerDay counts; index 0 is CSV column "1"
};

// Reads one function: the row whose HashFunction is `which.function`, else data row `which.row`. The
// file is streamed and only that row parsed, so a day of the public dataset (~50k rows) stays cheap.
// Throws std::invalid_argument naming the file, line and column (header name and 1-based position).
AzureFunctionCounts read_azure_function(const std::filesystem::path& file, const AzureReplay& which);

// Arrival times in [0, duration_s): replayed minute m (trace minute spec.azure.start_minute + m) covers
// [60m, 60m + 60). Its count times spec.rate_scale is resolved to an integer n by a seeded draw of the
// fraction, and the n arrivals are spread within the minute at the normalized partial sums of n + 1
// Gamma gaps with cv = spec.cv_scale. At cv 1 the gaps are exponential and the positions are exactly
// n sorted uniforms (uniform order statistics); above 1 they cluster into bursts.
// The invocations a replay over [0, duration_s) expects: the replayed minutes' counts times rate_scale.
double azure_expected_arrivals(const AzureFunctionCounts& counts, const ArrivalSpec& spec, double duration_s);

// Throws std::invalid_argument when azure_expected_arrivals exceeds kMaxArrivalsPerModel.
std::vector<double> azure_arrivals(const AzureFunctionCounts& counts, const ArrivalSpec& spec, double duration_s,
                                   PortableRandom& random);

}  // namespace dstack::serve
