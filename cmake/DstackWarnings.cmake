# One warning policy for every target: dstack_set_warnings(<target>).
function(dstack_set_warnings target)
  set(cxx_flags -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
  # nvcc forwards host flags through -Xcompiler; -Wpedantic there trips on CUDA's own extensions.
  set(cuda_host_flags -Wall,-Wextra)
  if(DSTACK_WERROR)
    list(APPEND cxx_flags -Werror)
    string(APPEND cuda_host_flags ",-Werror")
  endif()
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:${cxx_flags}>
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=${cuda_host_flags}>
    $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${DSTACK_WERROR}>>:-Werror=all-warnings>)
endfunction()
