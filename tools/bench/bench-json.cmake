# Shared by the benchmarks' smoke checks (check-bench-*-json.cmake), run as
# `cmake -DBENCH=<binary> -DOUT=<json file> -P <check>`:
#   run_bench(<what> <args>...)  runs ${BENCH} <args>, keeps stdout in ${json}
#                                (and in ${OUT}), fails on a non-zero exit;
#   get_json(<out var> <path>...) the value at that path, or fail;
#   expect_num(<value> <GREATER|LESS|EQUAL|GREATER_EQUAL|LESS_EQUAL> <ref> <what>).
# Nothing here depends on how fast the machine is.

macro(run_bench what)
  set(BENCH_WHAT "${what}")
  execute_process(
    COMMAND ${BENCH} ${ARGN}
    OUTPUT_VARIABLE json
    ERROR_VARIABLE err
    RESULT_VARIABLE rc)
  file(WRITE ${OUT} "${json}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} exited with ${rc}\nstderr:\n${err}\nstdout:\n${json}")
  endif()
endmacro()

function(fail what)
  message(FATAL_ERROR "${BENCH_WHAT} JSON: ${what} (see ${OUT})")
endfunction()

function(get_json out)
  string(JSON value ERROR_VARIABLE jerr GET "${json}" ${ARGN})
  if(jerr)
    fail("${jerr}")
  endif()
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

function(expect_num v op ref what)
  if(NOT "${v}" MATCHES "^-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$")
    fail("${what} = '${v}' is not a number")
  endif()
  if(NOT "${v}" ${op} "${ref}")
    fail("${what} = ${v}, expected ${op} ${ref}")
  endif()
endfunction()
