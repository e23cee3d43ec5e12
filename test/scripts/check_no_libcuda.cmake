# cmake -DBINARY=... -DREADELF=... -P check_no_libcuda.cmake
# The dstack binary must load where no NVIDIA driver is installed: no libcuda among its needed libraries.
execute_process(COMMAND ${READELF} -d ${BINARY} OUTPUT_VARIABLE dyn RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf -d ${BINARY} failed (${rc})")
endif()
string(REGEX MATCHALL "Shared library: \\[[^]]+\\]" needed "${dyn}")
message(STATUS "${BINARY} needs: ${needed}")
foreach(lib IN LISTS needed)
  if(lib MATCHES "libcuda\\.so|libcudart\\.so|libnvidia")
    message(FATAL_ERROR "${BINARY} depends on ${lib}: it would not start without an NVIDIA driver. "
                        "Link the runtime statically and reach the Driver API through cudaGetDriverEntryPointByVersion.")
  endif()
endforeach()
