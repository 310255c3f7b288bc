# Smoke check for tools/bench-discard (CTest label `bench`): runs a tiny
# benchmark and checks that the JSON has the keys scripts rely on and that
# the values are sane. Nothing here depends on how fast the machine is.
#   cmake -DBENCH=<bench-discard> -DOUT=<json file> -P check-bench-discard-json.cmake
cmake_minimum_required(VERSION 3.20)

execute_process(
  COMMAND ${BENCH} --size 64M --rounds 1 --backend all --inflight 2 --json --quiet
  OUTPUT_VARIABLE json
  ERROR_VARIABLE err
  RESULT_VARIABLE rc)
file(WRITE ${OUT} "${json}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "bench-discard exited with ${rc}\nstderr:\n${err}\nstdout:\n${json}")
endif()

function(fail what)
  message(FATAL_ERROR "bench-discard JSON: ${what} (see ${OUT})")
endfunction()

# get_json(<out var> <path...>): the value at that path, or fail.
function(get_json out)
  string(JSON value ERROR_VARIABLE jerr GET "${json}" ${ARGN})
  if(jerr)
    fail("${jerr}")
  endif()
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

# expect_num(<value> <GREATER|LESS|EQUAL|GREATER_EQUAL|LESS_EQUAL> <ref> <what>)
function(expect_num v op ref what)
  if(NOT "${v}" MATCHES "^-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$")
    fail("${what} = '${v}' is not a number")
  endif()
  if(NOT "${v}" ${op} "${ref}")
    fail("${what} = ${v}, expected ${op} ${ref}")
  endif()
endfunction()

get_json(ok ok)
if(NOT ok)
  fail("\"ok\" is not true: functional errors were reported")
endif()
foreach(key ratio_throughput_vs_sync report_p99_ratio_vs_sync max_loop_block_us)
  get_json(v ${key})
  expect_num("${v}" GREATER 0 "${key}")
  foreach(block inflight_1 inflight_n)
    get_json(v ${block} ${key})
    expect_num("${v}" GREATER 0 "${block}.${key}")
  endforeach()
endforeach()
get_json(v size_bytes)
expect_num("${v}" EQUAL 67108864 "size_bytes")

# 2 backends x (3 shapes x 4 engines + the whole-range reference)
string(JSON n LENGTH "${json}" results)
expect_num("${n}" EQUAL 26 "the number of results")
math(EXPR last "${n} - 1")
foreach(i RANGE ${last})
  get_json(backend results ${i} backend)
  get_json(shape results ${i} shape)
  get_json(engine results ${i} engine)
  set(at "results[${i}] (${backend} ${shape} ${engine})")
  get_json(freed_ok results ${i} freed_ok)
  if(NOT freed_ok)
    fail("${at}: freed_ok is false")
  endif()
  get_json(expected results ${i} bytes_expected)
  get_json(freed results ${i} bytes_freed)
  expect_num("${expected}" EQUAL 67108864 "${at}.bytes_expected")
  expect_num("${freed}" EQUAL "${expected}" "${at}.bytes_freed")
  get_json(v results ${i} gib_per_s)
  expect_num("${v}" GREATER 0 "${at}.gib_per_s")
  get_json(v results ${i} cpu_s)
  expect_num("${v}" GREATER_EQUAL 0 "${at}.cpu_s")
  if(NOT engine STREQUAL "whole")
    get_json(reports results ${i} reports)
    get_json(p50 results ${i} p50_us)
    get_json(p99 results ${i} p99_us)
    get_json(block results ${i} max_loop_block_us)
    expect_num("${reports}" GREATER 0 "${at}.reports")
    expect_num("${p50}" GREATER 0 "${at}.p50_us")
    expect_num("${p99}" GREATER_EQUAL "${p50}" "${at}.p99_us")
    expect_num("${block}" GREATER 0 "${at}.max_loop_block_us")
  endif()
endforeach()
message(STATUS "bench-discard smoke: ${n} results, all memory freed; JSON in ${OUT}")

# The running-vCPU variant: the guest thread spins instead of sleeping.
get_json(v busy_guest)
if(v)
  fail("busy_guest is ${v} without --busy-guest")
endif()
execute_process(
  COMMAND ${BENCH} --size 16M --rounds 1 --backend anon --shape inflate-4K --inflight 1
          --busy-guest --json --quiet
  OUTPUT_VARIABLE json
  ERROR_VARIABLE err
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "bench-discard --busy-guest exited with ${rc}\nstderr:\n${err}")
endif()
get_json(v busy_guest)
get_json(ok ok)
if(NOT v OR NOT ok)
  fail("--busy-guest run: busy_guest=${v} ok=${ok}")
endif()
message(STATUS "bench-discard smoke: --busy-guest run ok")
