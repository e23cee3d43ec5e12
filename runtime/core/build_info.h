#pragma once
// What this binary is: version, commit, compiler, and whether the CUDA backend is compiled in.
#include <string>
#include <vector>

namespace dstack {

struct BuildInfo {
  std::string version;
  std::string commit;  // short hash, "unknown" outside a git checkout
  bool dirty;          // tracked files differed from the commit at build time
  std::string build_type;
  std::string cxx_compiler;
  bool cuda_compiled;
  std::string cuda_toolkit_version;     // empty when CUDA is not compiled in
  std::vector<int> cuda_architectures;  // e.g. {80, 90}
  // The vendor backend (cuDNN + cuBLAS reference runs, runtime/backend/cuda/vendor_ops.h), as
  // cmake/DstackVendorLibs.cmake found the libraries at configure time.
  bool vendor_compiled = false;
  std::string vendor_versions = {};  // "cuDNN 9.19.0 + cuBLAS 13.1.0" (header versions) when compiled in
  std::string vendor_missing = {};   // otherwise why not, with the fix ("cuDNN not found; set DSTACK_CUDNN_ROOT")
};

const BuildInfo& build_info();

}  // namespace dstack
