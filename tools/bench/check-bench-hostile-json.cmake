# Smoke check for `bench-discard --hostile` (CTest label `bench`): a short
# run of each kind; the JSON must have every key, and the counts must say
# the attack ran and the budget did its work. Nothing here depends on how
# fast the machine is: times are printed by the benchmark, never judged here.
#   cmake -DBENCH=<bench-discard> -DOUT=<json file> -P check-bench-hostile-json.cmake
cmake_minimum_required(VERSION 3.20)

include(${CMAKE_CURRENT_LIST_DIR}/bench-json.cmake)
run_bench("bench-discard --hostile" --hostile --run-ms 300 --rounds 1 --json --quiet)

string(JSON n LENGTH "${json}" runs)
expect_num("${n}" EQUAL 3 "the number of runs")
foreach(i RANGE 2)
  get_json(kind runs ${i} kind)
  foreach(key notify_calls wall_p50_us wall_p99_us wall_max_us cpu_p50_us cpu_p99_us
              cpu_max_us wall_over_100us cpu_over_100us loop_max_callback_us signal_ms
              lock_ms stop_ms reports ack_p50_us ack_max_us deflate_chains notify_yields
              not_zeroed_pages)
    get_json(v runs ${i} ${key})
    expect_num("${v}" GREATER_EQUAL 0 "${kind}.${key}")
  endforeach()
  get_json(v runs ${i} reports)
  expect_num("${v}" GREATER 0 "${kind}.reports")
  get_json(v runs ${i} not_zeroed_pages)
  expect_num("${v}" EQUAL 0 "${kind}.not_zeroed_pages")
  get_json(calls runs ${i} notify_calls)
  expect_num("${calls}" GREATER 0 "${kind}.notify_calls")
  get_json(v runs ${i} deflate_chains)
  get_json(yields runs ${i} notify_yields)
  if(kind STREQUAL "quiet")
    expect_num("${v}" EQUAL 0 "quiet.deflate_chains")
  elseif(kind STREQUAL "ring-full")
    # The attack ran (more than one ring's worth) and the budget cut it up.
    expect_num("${v}" GREATER 256 "ring-full.deflate_chains")
    expect_num("${yields}" GREATER 0 "ring-full.notify_yields")
  elseif(kind STREQUAL "unbudgeted")
    expect_num("${v}" GREATER 256 "unbudgeted.deflate_chains")
    expect_num("${yields}" EQUAL 0 "unbudgeted.notify_yields")
  else()
    fail("unknown kind '${kind}'")
  endif()
endforeach()
