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
};

const BuildInfo& build_info();

}  // namespace dstack
