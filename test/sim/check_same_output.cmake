# cmake -DBINARY=... -DARGS="a;b" -P check_same_output.cmake
# Runs a command twice and requires success and byte-identical stdout (the simulator is deterministic).
execute_process(COMMAND ${BINARY} ${ARGS} OUTPUT_VARIABLE first ERROR_VARIABLE err1 RESULT_VARIABLE rc1)
execute_process(COMMAND ${BINARY} ${ARGS} OUTPUT_VARIABLE second ERROR_VARIABLE err2 RESULT_VARIABLE rc2)
if(NOT rc1 EQUAL 0 OR NOT rc2 EQUAL 0)
  message(FATAL_ERROR "`${BINARY} ${ARGS}` failed (${rc1}, ${rc2}):\n${err1}${err2}")
endif()
if(NOT first STREQUAL second)
  message(FATAL_ERROR "`${BINARY} ${ARGS}` printed different output on two runs:\n${first}\n---\n${second}")
endif()
if(NOT first MATCHES "\"simulated\": true")
  message(FATAL_ERROR "output of `${BINARY} ${ARGS}` does not say it is simulated:\n${first}")
endif()
