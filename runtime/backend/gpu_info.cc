#include "runtime/backend/gpu_info.h"

#include <fmt/format.h>

namespace dstack {

std::string cuda_version_string(int version) {
  if (version <= 0) return "none";
  return fmt::format("{}.{}", version / 1000, (version % 1000) / 10);
}

}  // namespace dstack
