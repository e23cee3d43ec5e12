#include "runtime/core/error.h"

#include <fmt/format.h>

#include <utility>

namespace dstack {

std::string_view api_family_name(ApiFamily family) {
  switch (family) {
    case ApiFamily::Runtime: return "CUDA runtime";
    case ApiFamily::Driver: return "CUDA driver";
    case ApiFamily::Cublas: return "cuBLAS";
    case ApiFamily::Cudnn: return "cuDNN";
  }
  return "unknown API";
}

std::string format_api_failure(const ApiFailure& f) {
  // Keep only the path below the source root: absolute build paths are noise in messages.
  std::string_view file = f.file;
  for (std::string_view root : {"/runtime/", "/kernels/", "/models/", "/app/", "/test/", "/bench/"}) {
    if (auto pos = file.rfind(root); pos != std::string_view::npos) {
      file = file.substr(pos + 1);
      break;
    }
  }
  return fmt::format("{} call `{}` failed at {}:{}: {} ({}): {}", api_family_name(f.family), f.call, file,
                     f.line, f.code_name, f.code, f.description);
}

ApiError::ApiError(ApiFailure failure)
    : std::runtime_error(format_api_failure(failure)), failure_(std::move(failure)) {}

}  // namespace dstack
