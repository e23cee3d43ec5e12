#include "runtime/core/build_info.h"

#include <sstream>

#include "dstack_build_config.h"
#include "dstack_git_revision.h"

namespace dstack {
namespace {

std::vector<int> parse_architectures(const std::string& list) {
  std::vector<int> archs;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ';')) {
    // CMake allows suffixes such as "90a" or "80-real"; the leading number is the architecture.
    if (!item.empty() && item[0] >= '0' && item[0] <= '9') archs.push_back(std::stoi(item));
  }
  return archs;
}

}  // namespace

const BuildInfo& build_info() {
  static const BuildInfo info{
      .version = DSTACK_VERSION,
      .commit = DSTACK_GIT_COMMIT,
      .dirty = DSTACK_GIT_DIRTY,
      .build_type = DSTACK_BUILD_TYPE,
      .cxx_compiler = DSTACK_CXX_COMPILER,
#ifdef DSTACK_HAVE_CUDA
      .cuda_compiled = true,
#else
      .cuda_compiled = false,
#endif
      .cuda_toolkit_version = DSTACK_CUDA_TOOLKIT_VERSION,
      .cuda_architectures = parse_architectures(DSTACK_CUDA_ARCHITECTURES),
  };
  return info;
}

}  // namespace dstack
