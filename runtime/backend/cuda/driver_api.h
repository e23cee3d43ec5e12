#pragma once
// The CUDA Driver API, reached only through cudaGetDriverEntryPointByVersion. Linking libcuda would
// stop the binary from loading on machines without a driver; the statically linked runtime instead
// loads the driver at run time and hands us its symbols, or reports that there is none.
#include <cuda.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace dstack::cuda {

// X(symbol, CUDA version that introduced it). The version names the driver a user needs when a
// symbol is missing; the ABI requested is always the one of the headers we compile against.
#define DSTACK_DRIVER_CORE_SYMBOLS(X) \
  X(cuInit, 2000)                     \
  X(cuDriverGetVersion, 2020)         \
  X(cuGetErrorName, 6000)             \
  X(cuGetErrorString, 6000)           \
  X(cuDeviceGet, 2000)                \
  X(cuDeviceGetAttribute, 2000)       \
  X(cuDeviceGetName, 2000)            \
  X(cuDeviceTotalMem, 3020)           \
  X(cuStreamDestroy, 4000)            \
  X(cuStreamSynchronize, 2000)

#define DSTACK_DRIVER_GREEN_CONTEXT_SYMBOLS(X) \
  X(cuDeviceGetDevResource, 12040)             \
  X(cuDevSmResourceSplitByCount, 12040)        \
  X(cuDevResourceGenerateDesc, 12040)          \
  X(cuGreenCtxCreate, 12040)                   \
  X(cuGreenCtxDestroy, 12040)                  \
  X(cuGreenCtxGetDevResource, 12040)           \
  X(cuCtxFromGreenCtx, 12040)                  \
  X(cuGreenCtxStreamCreate, 12050)

struct DriverApi {
#define DSTACK_DECLARE_DRIVER_FN(name, since) decltype(&::name) name = nullptr;
  DSTACK_DRIVER_CORE_SYMBOLS(DSTACK_DECLARE_DRIVER_FN)
  DSTACK_DRIVER_GREEN_CONTEXT_SYMBOLS(DSTACK_DECLARE_DRIVER_FN)
#undef DSTACK_DECLARE_DRIVER_FN

  int driver_version = 0;
  // One line per green-context symbol the driver lacks, naming it and the CUDA version it needs.
  std::vector<std::string> missing_green_context_symbols;

  bool has_green_contexts() const { return missing_green_context_symbols.empty(); }
  // Throws DriverUnavailable naming the missing symbols and the driver version needed.
  void require_green_contexts() const;
};

// No usable driver (none installed, too old, or no device): callers fall back to the simulator.
class DriverUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Loads the table once (thread-safe) and calls cuInit. Throws DriverUnavailable with the reason
// when no driver can be used; the result is cached, so later calls are cheap.
const DriverApi& driver();

// The table if driver() already succeeded, else nullptr. Never throws; used by error formatting.
const DriverApi* driver_if_loaded() noexcept;

}  // namespace dstack::cuda
