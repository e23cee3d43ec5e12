# cmake -DBINARY=... -DARGS="a;b" -DEXPECT_RC=0|nonzero -DEXPECT_OUTPUT=<regex> -P run_expect.cmake
# Runs a command and checks its exit status and that stdout+stderr match a regex. A command whose
# answer depends on the machine passes -DGPU_EXPECT_RC=... -DGPU_EXPECT_OUTPUT=<regex> too: those are
# the expectations where `nvidia-smi -L` lists a GPU, so the test checks the right thing on both.
if(DEFINED GPU_EXPECT_RC)
  execute_process(COMMAND nvidia-smi -L RESULT_VARIABLE smi_rc OUTPUT_QUIET ERROR_QUIET)
  if(smi_rc EQUAL 0)
    set(EXPECT_RC "${GPU_EXPECT_RC}")
    set(EXPECT_OUTPUT "${GPU_EXPECT_OUTPUT}")
  endif()
endif()
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
