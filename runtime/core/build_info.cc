#include "runtime/core/build_info.h"

#include <sstream>

#include "dstack_build_config.h"
#include "dstack_git_revision.h"
#include "dstack_vendor_config.h"

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

std::string vendor_versions_text(const std::string& cudnn, const std::string& cublas) {
  std::string text = "cuDNN ";
  text.append(cudnn.empty() ? "(version unknown)" : cudnn).append(" + cuBLAS ");
  text.append(cublas.empty() ? "(version unknown)" : cublas);
  return text;
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
      .vendor_compiled = DSTACK_VENDOR_BUILT != 0,
      .vendor_versions = DSTACK_VENDOR_BUILT
                             ? vendor_versions_text(DSTACK_VENDOR_CUDNN_VERSION, DSTACK_VENDOR_CUBLAS_VERSION)
                             : std::string(),
      .vendor_missing = DSTACK_VENDOR_MISSING,
  };
  return info;
}

}  // namespace dstack
