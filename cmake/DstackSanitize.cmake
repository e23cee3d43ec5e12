# DSTACK_SANITIZE (e.g. "address,undefined"): every target compiled and linked with those sanitizers,
# aborting on the first report. CPU side only: the CUDA backend is not built (nvcc's host code and
# the static CUDA runtime are not instrumented), so set DSTACK_ENABLE_CUDA=OFF with it.
if(DSTACK_SANITIZE)
  string(TOUPPER "${DSTACK_ENABLE_CUDA}" _cuda_mode)
  if(NOT _cuda_mode STREQUAL "OFF")
    message(FATAL_ERROR "DSTACK_SANITIZE builds the CPU side only: add -DDSTACK_ENABLE_CUDA=OFF "
                        "(make sanitize does)")
  endif()
  if(NOT DSTACK_SANITIZE MATCHES "^[a-z]+(,[a-z]+)*$")
    message(FATAL_ERROR "DSTACK_SANITIZE='${DSTACK_SANITIZE}': give sanitizer names separated by commas, "
                        "e.g. address,undefined")
  endif()
  # GCC 12 reports false "may be used uninitialized" inside libstdc++ (std::regex, std::function)
  # once ASan instruments it; the main build keeps that warning.
  add_compile_options(-fsanitize=${DSTACK_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-maybe-uninitialized)
  endif()
  add_link_options(-fsanitize=${DSTACK_SANITIZE})
  message(STATUS "dstack: sanitizers ${DSTACK_SANITIZE}")
endif()

# DSTACK_FUZZ: the libFuzzer targets in fuzz/ (clang only). fuzz/CMakeLists.txt gives the libraries
# holding the readers the fuzzer's coverage instrumentation; the fuzz executables link its main.
option(DSTACK_FUZZ "Build the libFuzzer targets in fuzz/ (clang; make sanitize turns it on)" OFF)
if(DSTACK_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "DSTACK_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++ "
                        "(Debian: apt-get install clang libclang-rt-14-dev; make setup installs them)")
  endif()
  message(STATUS "dstack: libFuzzer targets in fuzz/")
endif()
