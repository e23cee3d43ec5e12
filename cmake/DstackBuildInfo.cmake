# Build facts every result records as provenance. The commit is re-read at every build (not only at
# configure time), so a binary never reports a stale commit.
set(DSTACK_GENERATED_DIR "${CMAKE_BINARY_DIR}/generated")
set(_rev "${DSTACK_GENERATED_DIR}/dstack_git_revision.h")
add_custom_target(dstack_git_revision ALL
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${CMAKE_SOURCE_DIR} -DOUT=${_rev}
          -P ${CMAKE_CURRENT_LIST_DIR}/WriteGitRevision.cmake
  BYPRODUCTS ${_rev}
  COMMENT "Reading the git commit"
  VERBATIM)

if(DSTACK_CUDA_ENABLED)
  set(DSTACK_CUDA_TOOLKIT_VERSION "${CUDAToolkit_VERSION}")
else()
  set(DSTACK_CUDA_TOOLKIT_VERSION "")
endif()
configure_file("${CMAKE_CURRENT_LIST_DIR}/dstack_build_config.h.in" "${DSTACK_GENERATED_DIR}/dstack_build_config.h" @ONLY)
