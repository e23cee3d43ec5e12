# The vendor libraries of the reference backend: cuBLAS and cuDNN (runtime/backend/cuda/vendor_ops).
# Looked for, in order: the cache paths DSTACK_CUDNN_ROOT / DSTACK_CUBLAS_ROOT, the CUDA toolkit, and
# the pip wheels of the first `python3` on PATH (site-packages/nvidia/{cudnn,cublas}/{include,lib},
# where the library is lib/libcudnn.so.9 with no unversioned symlink). Missing libraries are reported
# with the fix and never stop the configure: the rest of dstack builds without the vendor backend.
#
# Sets DSTACK_VENDOR_FOUND (ON when both were found), DSTACK_CUDNN_VERSION, DSTACK_CUBLAS_VERSION,
# DSTACK_VENDOR_MISSING (why not, with the fix), the targets dstack::cudnn and dstack::cublas (headers
# + library + run-time path), and writes generated/dstack_vendor_config.h for `dstack info`.
set(DSTACK_CUDNN_ROOT "" CACHE PATH "Folder holding include/cudnn.h and lib/ or lib64/libcudnn.so[.9] (e.g. a pip wheel's site-packages/nvidia/cudnn)")
set(DSTACK_CUBLAS_ROOT "" CACHE PATH "Folder holding include/cublas_v2.h and lib/ or lib64/libcublas.so[.N] (e.g. a pip wheel's site-packages/nvidia/cublas)")

set(DSTACK_VENDOR_FOUND OFF)
set(DSTACK_VENDOR_MISSING "")
set(DSTACK_CUDNN_VERSION "")
set(DSTACK_CUBLAS_VERSION "")

# Where the first python3 on PATH has the wheel `nvidia.<module>` installed; empty when it has not
# (or there is no python3). Failure is quiet: a machine without the wheels simply has no candidate.
function(_dstack_wheel_path module out)
  set(${out} "" PARENT_SCOPE)
  execute_process(COMMAND python3 -c "import nvidia.${module} as m; print(list(m.__path__)[0])"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE path ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(rc EQUAL 0 AND IS_DIRECTORY "${path}")
    set(${out} "${path}" PARENT_SCOPE)
  endif()
endfunction()

# "MAJOR.MINOR.PATCH" from the #defines `<prefix>MAJOR` etc. of a header; empty if unreadable.
function(_dstack_header_version header prefix patch_name out)
  set(${out} "" PARENT_SCOPE)
  if(NOT EXISTS "${header}")
    return()
  endif()
  file(STRINGS "${header}" lines REGEX "^#define ${prefix}(MAJOR|MINOR|${patch_name})[ \t]+[0-9]+")
  set(parts "")
  foreach(part MAJOR MINOR ${patch_name})
    foreach(line IN LISTS lines)
      if(line MATCHES "^#define ${prefix}${part}[ \t]+([0-9]+)")
        list(APPEND parts "${CMAKE_MATCH_1}")
      endif()
    endforeach()
  endforeach()
  list(LENGTH parts n)
  if(n EQUAL 3)
    list(JOIN parts "." v)
    set(${out} "${v}" PARENT_SCOPE)
  endif()
endfunction()

# First candidate (a "label|include dirs|library dirs" triple, dirs joined by ',') holding both
# `header` and one of `names`; sets <out>_INCLUDE_DIR, <out>_LIBRARY, <out>_WHERE. Header and library
# come from the same candidate, so a toolkit header is never paired with a wheel's library.
# Where to look for one vendor library, in order, as "WHERE|include dir|lib dirs" entries: the
# cache variable ROOT_VAR, the toolkit entry (may be empty), python3's nvidia.<WHEEL> wheel.
function(_dstack_vendor_candidates out root_var wheel toolkit_entry)
  set(candidates "")
  if(${root_var})
    _dstack_lib_dirs("${${root_var}}" libs)
    list(APPEND candidates "${root_var}|${${root_var}}/include|${libs}")
  endif()
  if(toolkit_entry)
    list(APPEND candidates "${toolkit_entry}")
  endif()
  _dstack_wheel_path(${wheel} wheel_dir)
  if(wheel_dir)
    _dstack_lib_dirs("${wheel_dir}" libs)
    list(APPEND candidates "python wheel nvidia.${wheel}|${wheel_dir}/include|${libs}")
  endif()
  set(${out} "${candidates}" PARENT_SCOPE)
endfunction()

function(_dstack_find_pair out header names)
  set(${out}_INCLUDE_DIR "" PARENT_SCOPE)
  set(${out}_LIBRARY "" PARENT_SCOPE)
  set(${out}_WHERE "" PARENT_SCOPE)
  foreach(candidate IN LISTS ARGN)
    string(REPLACE "|" ";" fields "${candidate}")
    list(GET fields 0 label)
    list(GET fields 1 incs)
    list(GET fields 2 libs)
    string(REPLACE "," ";" incs "${incs}")
    string(REPLACE "," ";" libs "${libs}")
    find_path(inc_dir ${header} PATHS ${incs} NO_DEFAULT_PATH NO_CACHE)
    find_library(lib_file NAMES ${names} PATHS ${libs} NO_DEFAULT_PATH NO_CACHE)
    if(inc_dir AND lib_file)
      set(${out}_INCLUDE_DIR "${inc_dir}" PARENT_SCOPE)
      set(${out}_LIBRARY "${lib_file}" PARENT_SCOPE)
      set(${out}_WHERE "${label}" PARENT_SCOPE)
      return()
    endif()
    unset(inc_dir)
    unset(lib_file)
  endforeach()
endfunction()

# An imported shared library with its headers. A library outside the toolkit (a wheel, a custom
# root) also gets its folder as a run-time path, so binaries load it without LD_LIBRARY_PATH; the
# wheels ship only the versioned file, which is what the binary records anyway (its SONAME).
function(_dstack_vendor_target name include_dir library)
  add_library(${name} SHARED IMPORTED GLOBAL)
  set_target_properties(${name} PROPERTIES IMPORTED_LOCATION "${library}"
                                           INTERFACE_INCLUDE_DIRECTORIES "${include_dir}")
  get_filename_component(dir "${library}" DIRECTORY)
  if(NOT dir STREQUAL CUDAToolkit_LIBRARY_DIR)
    set_property(TARGET ${name} APPEND PROPERTY INTERFACE_LINK_OPTIONS "LINKER:-rpath,${dir}")
  endif()
endfunction()

function(_dstack_lib_dirs root out)
  set(${out} "${root}/lib,${root}/lib64,${root}/lib/x64" PARENT_SCOPE)
endfunction()

if(NOT DSTACK_CUDA_ENABLED)
  set(DSTACK_VENDOR_MISSING "the CUDA backend is not built")
else()
  list(JOIN CUDAToolkit_INCLUDE_DIRS "," _toolkit_incs)
  set(_toolkit "CUDA toolkit|${_toolkit_incs}|${CUDAToolkit_LIBRARY_DIR}")

  # ---- cuDNN
  _dstack_vendor_candidates(_candidates DSTACK_CUDNN_ROOT cudnn "${_toolkit}")
  _dstack_find_pair(_cudnn cudnn.h "libcudnn.so;libcudnn.so.9" ${_candidates})
  if(_cudnn_LIBRARY)
    _dstack_header_version("${_cudnn_INCLUDE_DIR}/cudnn_version.h" CUDNN_ PATCHLEVEL DSTACK_CUDNN_VERSION)
    _dstack_vendor_target(dstack::cudnn "${_cudnn_INCLUDE_DIR}" "${_cudnn_LIBRARY}")
    message(STATUS "dstack: cuDNN ${DSTACK_CUDNN_VERSION} found (${_cudnn_WHERE}): ${_cudnn_LIBRARY}, headers in ${_cudnn_INCLUDE_DIR}")
  else()
    set(DSTACK_VENDOR_MISSING "cuDNN not found; set DSTACK_CUDNN_ROOT")
    message(STATUS "dstack: cuDNN missing (looked in DSTACK_CUDNN_ROOT='${DSTACK_CUDNN_ROOT}', the CUDA toolkit, "
                   "and python3's nvidia.cudnn wheel): the vendor backend is not built. Fix: "
                   "-DDSTACK_CUDNN_ROOT=<folder with include/cudnn.h and lib/libcudnn.so.9>, or pip install nvidia-cudnn-cu13")
  endif()

  # ---- cuBLAS (normally CUDA::cublas, part of every toolkit)
  set(_toolkit_cublas "")
  if(TARGET CUDA::cublas)
    set(_toolkit_cublas "${_toolkit}")
  endif()
  _dstack_vendor_candidates(_candidates DSTACK_CUBLAS_ROOT cublas "${_toolkit_cublas}")
  _dstack_find_pair(_cublas cublas_v2.h "libcublas.so;libcublas.so.13;libcublas.so.12" ${_candidates})
  if(_cublas_LIBRARY)
    _dstack_header_version("${_cublas_INCLUDE_DIR}/cublas_api.h" CUBLAS_VER_ PATCH DSTACK_CUBLAS_VERSION)
    if(_cublas_WHERE STREQUAL "CUDA toolkit")
      add_library(dstack::cublas INTERFACE IMPORTED GLOBAL)
      set_property(TARGET dstack::cublas PROPERTY INTERFACE_LINK_LIBRARIES CUDA::cublas)
    else()
      _dstack_vendor_target(dstack::cublas "${_cublas_INCLUDE_DIR}" "${_cublas_LIBRARY}")
    endif()
    message(STATUS "dstack: cuBLAS ${DSTACK_CUBLAS_VERSION} found (${_cublas_WHERE}): ${_cublas_LIBRARY}")
  else()
    if(DSTACK_VENDOR_MISSING)
      set(DSTACK_VENDOR_MISSING "cuDNN and cuBLAS not found; set DSTACK_CUDNN_ROOT and DSTACK_CUBLAS_ROOT")
    else()
      set(DSTACK_VENDOR_MISSING "cuBLAS not found; set DSTACK_CUBLAS_ROOT")
    endif()
    message(STATUS "dstack: cuBLAS missing (looked in DSTACK_CUBLAS_ROOT='${DSTACK_CUBLAS_ROOT}', the CUDA toolkit, "
                   "and python3's nvidia.cublas wheel): the vendor backend is not built. Fix: "
                   "-DDSTACK_CUBLAS_ROOT=<folder with include/cublas_v2.h and lib/libcublas.so.N>")
  endif()

  if(TARGET dstack::cudnn AND TARGET dstack::cublas)
    set(DSTACK_VENDOR_FOUND ON)
  endif()
endif()

# What `dstack info` says about the vendor backend (runtime/core/build_info.cc reads this).
if(DSTACK_VENDOR_FOUND)
  set(_built 1)
else()
  set(_built 0)
endif()
file(CONFIGURE OUTPUT "${CMAKE_BINARY_DIR}/generated/dstack_vendor_config.h" CONTENT [[
#pragma once
// Written by CMake at configure time (cmake/DstackVendorLibs.cmake).
#define DSTACK_VENDOR_BUILT @_built@
#define DSTACK_VENDOR_CUDNN_VERSION "@DSTACK_CUDNN_VERSION@"
#define DSTACK_VENDOR_CUBLAS_VERSION "@DSTACK_CUBLAS_VERSION@"
#define DSTACK_VENDOR_MISSING "@DSTACK_VENDOR_MISSING@"
]] @ONLY)
