#pragma once
// The backend contract: what the serving loop and every policy rely on from a Backend
// (runtime/backend/backend.h), as one set of cases each implementation must pass. A binary
// instantiates the suite with the backends it can make (test_contract_sim.cc: the simulator and the
// simulator paced to the wall clock, label cpu; test_contract_cuda.cc: the GPU, label gpu).
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "runtime/backend/backend.h"

namespace dstack::test {

// The models every contract backend holds, small enough for quick runs: "small" (mobilenet_v2) and
// "large" (resnet50), at batches up to kContractMaxBatch.
inline constexpr const char* kSmallModel = "mobilenet_v2";
inline constexpr const char* kLargeModel = "resnet50";
inline constexpr int64_t kContractMaxBatch = 8;

struct ContractBackend {
  std::string name;
  // Empty when the backend can be made here; otherwise why not (the case skips, saying so).
  std::function<std::string()> unavailable;
  // A fresh, idle backend at its clock's zero with both models added.
  std::function<std::unique_ptr<Backend>()> make;
  bool wall_clock = false;  // now() is wall time: deadlines are met late, never early
};

// gtest prints a parameter by its bytes unless told how.
inline void PrintTo(const ContractBackend& b, std::ostream* os) { *os << b.name; }

class BackendContract : public ::testing::TestWithParam<ContractBackend> {
 protected:
  void SetUp() override {
    if (const std::string why = GetParam().unavailable ? GetParam().unavailable() : ""; !why.empty())
      GTEST_SKIP() << GetParam().name << " unavailable: " << why;
    backend_ = GetParam().make();
  }
  Backend& b() { return *backend_; }
  std::unique_ptr<Backend> backend_;
};

std::string contract_name(const ::testing::TestParamInfo<ContractBackend>& info);

}  // namespace dstack::test
