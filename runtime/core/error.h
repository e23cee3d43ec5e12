#pragma once
// The one error type for failures of the CUDA-side APIs. It lives on the CPU side (no CUDA header)
// so that callers, the CLI and tests can catch and inspect it anywhere.
#include <stdexcept>
#include <string>
#include <string_view>

namespace dstack {

enum class ApiFamily { Runtime, Driver, Cublas, Cudnn };

std::string_view api_family_name(ApiFamily family);

struct ApiFailure {
  ApiFamily family;
  long long code;          // the API's own status value
  std::string code_name;   // e.g. "cudaErrorInvalidValue"
  std::string description; // the API's own message
  std::string call;        // the failing expression as written
  std::string file;
  int line;
};

// "<family> call `<call>` failed at <file>:<line>: <code_name> (<code>): <description>"
std::string format_api_failure(const ApiFailure& failure);

class ApiError : public std::runtime_error {
 public:
  explicit ApiError(ApiFailure failure);
  const ApiFailure& failure() const noexcept { return failure_; }

 private:
  ApiFailure failure_;
};

}  // namespace dstack
