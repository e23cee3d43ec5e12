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
