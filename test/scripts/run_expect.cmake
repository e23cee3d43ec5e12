# cmake -DBINARY=... -DARGS="a;b" -DEXPECT_RC=0|nonzero -DEXPECT_OUTPUT=<regex> -P run_expect.cmake
# Runs a command and checks its exit status and that stdout+stderr match a regex.
execute_process(COMMAND ${BINARY} ${ARGS} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
set(all "${out}${err}")
if(EXPECT_RC STREQUAL "nonzero")
  if(rc EQUAL 0)
    message(FATAL_ERROR "`${BINARY} ${ARGS}` succeeded but should have failed; output:\n${all}")
  endif()
elseif(NOT rc EQUAL EXPECT_RC)
  message(FATAL_ERROR "`${BINARY} ${ARGS}` exited ${rc}, expected ${EXPECT_RC}; output:\n${all}")
endif()
if(NOT all MATCHES "${EXPECT_OUTPUT}")
  message(FATAL_ERROR "output of `${BINARY} ${ARGS}` does not match '${EXPECT_OUTPUT}':\n${all}")
endif()
