# cmake -DBINARY=... -DINPUT=... -DOUTPUT=... -P check_infer_gpu.cmake
# `dstack infer --backend gpu` runs where a GPU is usable, and otherwise says plainly why not.
execute_process(COMMAND ${BINARY} info --json OUTPUT_VARIABLE info RESULT_VARIABLE rc)
string(JSON available GET "${info}" gpu available)
execute_process(COMMAND ${BINARY} infer resnet18 --backend gpu --input ${INPUT} --output ${OUTPUT}
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(available)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "on the GPU")
    message(FATAL_ERROR "a GPU is available but infer --backend gpu failed (${rc}):\n${out}${err}")
  endif()
else()
  if(rc EQUAL 0)
    message(FATAL_ERROR "no GPU, yet infer --backend gpu succeeded:\n${out}")
  endif()
  if(NOT err MATCHES "no usable CUDA driver/device|has no CUDA kernels")
    message(FATAL_ERROR "no GPU, but the error does not say so:\n${err}")
  endif()
  message(STATUS "as expected: ${err}")
endif()
