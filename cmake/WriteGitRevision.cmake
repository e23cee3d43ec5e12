# cmake -DSOURCE_DIR=... -DOUT=... -P WriteGitRevision.cmake
# Writes OUT only when its content changes, so an unchanged commit rebuilds nothing.
set(commit "unknown")
set(dirty "false")
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --short=12 HEAD WORKING_DIRECTORY ${SOURCE_DIR}
                  OUTPUT_VARIABLE out RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(rc EQUAL 0)
    set(commit "${out}")
    execute_process(COMMAND ${GIT_EXECUTABLE} status --porcelain --untracked-files=no WORKING_DIRECTORY ${SOURCE_DIR}
                    OUTPUT_VARIABLE status RESULT_VARIABLE rc2 ERROR_QUIET)
    if(rc2 EQUAL 0 AND NOT status STREQUAL "")
      set(dirty "true")
    endif()
  endif()
endif()
# A copied tree names its commit in the environment, and that wins over git: the GPU machine's copy
# carries a stale .git (HEAD at an older commit, the newer files read as local changes), which once
# stamped a measured profile with the wrong commit.
if(NOT "$ENV{DSTACK_GIT_COMMIT}" STREQUAL "")
  set(commit "$ENV{DSTACK_GIT_COMMIT}")
  set(dirty "false")
endif()
set(content "#pragma once\n#define DSTACK_GIT_COMMIT \"${commit}\"\n#define DSTACK_GIT_DIRTY ${dirty}\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
else()
  set(old "")
endif()
if(NOT old STREQUAL content)
  file(WRITE "${OUT}" "${content}")
endif()
