# Third-party libraries. On Debian they come from apt (`make setup`). On a machine without Debian's
# -dev packages (the lent GPU machines), tools/pack-gpu-deps.sh packs the same packages into one
# folder that travels with the tree; point DSTACK_DEPS_PREFIX at it.
if(DSTACK_DEPS_PREFIX)
  get_filename_component(DSTACK_DEPS_PREFIX "${DSTACK_DEPS_PREFIX}" ABSOLUTE)
  list(PREPEND CMAKE_PREFIX_PATH "${DSTACK_DEPS_PREFIX}/usr" "${DSTACK_DEPS_PREFIX}/usr/lib/x86_64-linux-gnu/cmake")
  list(PREPEND CMAKE_PREFIX_PATH "${DSTACK_DEPS_PREFIX}/usr/share/cmake")
endif()

set(_dstack_fix "run `make setup` (Debian), or pass -DDSTACK_DEPS_PREFIX=<folder from tools/pack-gpu-deps.sh>")
find_package(CLI11 CONFIG QUIET)
find_package(fmt CONFIG QUIET)
find_package(nlohmann_json CONFIG QUIET)
foreach(dep CLI11 fmt nlohmann_json)
  if(NOT ${dep}_FOUND)
    message(FATAL_ERROR "dstack needs ${dep}: ${_dstack_fix}")
  endif()
endforeach()

if(DSTACK_BUILD_TESTS)
  find_package(GTest CONFIG QUIET)
  if(NOT GTest_FOUND AND DSTACK_DEPS_PREFIX AND EXISTS "${DSTACK_DEPS_PREFIX}/usr/src/googletest/CMakeLists.txt")
    # Built from Debian's googletest source package, so no prebuilt library has to match this compiler.
    set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
    set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
    add_subdirectory("${DSTACK_DEPS_PREFIX}/usr/src/googletest" "${CMAKE_BINARY_DIR}/_deps/googletest" EXCLUDE_FROM_ALL SYSTEM)
    if(NOT TARGET GTest::gtest)  # googletest >= 1.11 defines these aliases itself
      add_library(GTest::gtest ALIAS gtest)
      add_library(GTest::gtest_main ALIAS gtest_main)
    endif()
    set(GTest_FOUND TRUE)
  endif()
  if(NOT GTest_FOUND)
    message(FATAL_ERROR "dstack's tests need GoogleTest: ${_dstack_fix}, or -DDSTACK_BUILD_TESTS=OFF")
  endif()
endif()

if(DSTACK_BUILD_BENCH)
  find_package(benchmark CONFIG QUIET)
  if(NOT benchmark_FOUND)
    message(WARNING "Google Benchmark not found: benchmarks are not built (${_dstack_fix})")
  endif()
endif()
