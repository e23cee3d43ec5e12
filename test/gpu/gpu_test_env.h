#pragma once
// GPU tests skip, with the reason, where no usable device is present.
#include <gtest/gtest.h>

#include <string>

#include "runtime/backend/gpu_info.h"

namespace dstack::test {

// Empty when device 0 is usable; otherwise why not. Probed once per process.
const std::string& no_gpu_reason();
const GpuReport& gpu_report();

}  // namespace dstack::test

#define DSTACK_REQUIRE_GPU()                                                            \
  do {                                                                                  \
    if (const std::string& why = ::dstack::test::no_gpu_reason(); !why.empty())         \
      GTEST_SKIP() << "no GPU: " << why;                                                \
  } while (0)

namespace dstack::test {

// Base of the tests that need green contexts on device 0: skips with the reason otherwise.
class GreenContextFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    DSTACK_REQUIRE_GPU();
    dev_ = gpu_report().devices.at(0);
    if (!dev_.green_contexts) GTEST_SKIP() << "no green contexts: " << dev_.green_context_error;
  }
  // More than a full wave of blocks, so every SM a stream may use gets work.
  int probe_blocks() const { return 2 * dev_.max_blocks_per_sm * dev_.sm_count; }
  GpuDevice dev_;
};

}  // namespace dstack::test
