# Decides whether the CUDA backend is built (DSTACK_ENABLE_CUDA = AUTO | ON | OFF) and, if so,
# enables the CUDA language for DSTACK_CUDA_ARCHITECTURES. Sets DSTACK_CUDA_ENABLED.
string(TOUPPER "${DSTACK_ENABLE_CUDA}" _mode)
if(NOT _mode MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "DSTACK_ENABLE_CUDA must be AUTO, ON or OFF (got '${DSTACK_ENABLE_CUDA}')")
endif()

set(DSTACK_CUDA_ENABLED OFF)
if(NOT _mode STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(CMAKE_CUDA_ARCHITECTURES "${DSTACK_CUDA_ARCHITECTURES}")
    # The binary must start where no driver is installed: the runtime is linked statically and the
    # Driver API is reached through cudaGetDriverEntryPointByVersion, never through libcuda.
    set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
    enable_language(CUDA)
    # CMake 3.25 cannot ask nvcc 13 for C++20; device code needs no more than C++17.
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    set(DSTACK_CUDA_ENABLED ON)
  elseif(_mode STREQUAL "ON")
    message(FATAL_ERROR "DSTACK_ENABLE_CUDA=ON but no CUDA compiler was found: put nvcc on PATH "
                        "(e.g. /usr/local/cuda/bin) or set CMAKE_CUDA_COMPILER, or use DSTACK_ENABLE_CUDA=AUTO|OFF")
  else()
    message(STATUS "dstack: no CUDA toolkit found, building without the CUDA backend")
  endif()
endif()
if(NOT DSTACK_CUDA_ENABLED)
  set(DSTACK_CUDA_ARCHITECTURES "")
endif()
