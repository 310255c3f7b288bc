# unit/layers: the build keeps the layers of docs/architecture.md.
#
# Run as cmake -P with CC, SOURCE_DIR, WORK_DIR and <LAYER>_INCLUDES (a
# layer library's include directories, exactly as CMake computed them for
# its own files, joined with '|'), for LAYER in BASE, DEVICES, CONTROL and ALL.
# Checks, each compiling a one-line translation unit with ${CC}:
#  1. with base's flags, every header of devices/, control/ and vmm/ fails
#     to be found; with devices' flags, every header of control/ and vmm/;
#     with control's flags, every header of vmm/;
#  2. the same harness compiles a layer's own headers and those below it
#     (so 1. fails for the right reason, and this test can fail);
#  3. no file of a layer includes a path with "..", which would reach
#     around the include roots (a quoted include is looked up next to the
#     including file first);
#  4. the headers the API and the CLI include (control/*.h, vmm/config.h)
#     and the balloon's do not pull in <liburing.h>.
cmake_minimum_required(VERSION 3.20)

foreach(layer BASE DEVICES CONTROL ALL)
  string(REPLACE "|" ";" dirs "${${layer}_INCLUDES}")
  set(${layer}_FLAGS)
  foreach(d ${dirs})
    list(APPEND ${layer}_FLAGS "-I${d}")
  endforeach()
endforeach()

file(MAKE_DIRECTORY ${WORK_DIR})
set(failures 0)
set(probe ${WORK_DIR}/probe.c)

# Compile '#include "<header>"' with <flags>; *ok: whether it compiled, *why: the first error.
function(try_include header flags ok why)
  file(WRITE ${probe} "#include \"${header}\"\nint layers_probe;\n")
  execute_process(COMMAND ${CC} -fsyntax-only ${${flags}} ${probe}
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  string(REGEX MATCH "[^\n]*error[^\n]*" first "${err}")
  if(rc EQUAL 0)
    set(${ok} TRUE PARENT_SCOPE)
  else()
    set(${ok} FALSE PARENT_SCOPE)
  endif()
  set(${why} "${first}" PARENT_SCOPE)
endfunction()

function(headers_of layer out)
  file(GLOB_RECURSE hs RELATIVE ${SOURCE_DIR} ${SOURCE_DIR}/${layer}/*.h)
  set(${out} ${hs} PARENT_SCOPE)
endfunction()

macro(fail msg)
  message(STATUS "FAIL: ${msg}")
  math(EXPR failures "${failures} + 1")
endmacro()

# 1 and 2.
set(upper_of_BASE devices control vmm)
set(own_of_BASE base)
set(upper_of_DEVICES control vmm)
set(own_of_DEVICES base devices)
set(upper_of_CONTROL vmm)
set(own_of_CONTROL base devices control)
set(refused 0)
set(allowed 0)
foreach(layer BASE DEVICES CONTROL)
  foreach(upper ${upper_of_${layer}})
    headers_of(${upper} hs)
    foreach(h ${hs})
      try_include(${h} ALL_FLAGS ok why)
      if(NOT ok)
        fail("${h} does not compile even with every layer's flags: ${why}")
        continue()
      endif()
      try_include(${h} ${layer}_FLAGS ok why)
      string(TOLOWER ${layer} lname)
      if(ok)
        fail("${lname}/ can include ${h}, a layer above it")
      elseif(NOT why MATCHES "No such file")
        fail("${h} with ${lname}/'s flags failed, but not for a missing file: ${why}")
      else()
        math(EXPR refused "${refused} + 1")
      endif()
    endforeach()
  endforeach()
  foreach(own ${own_of_${layer}})
    headers_of(${own} hs)
    foreach(h ${hs})
      try_include(${h} ${layer}_FLAGS ok why)
      if(NOT ok)
        string(TOLOWER ${layer} lname)
        fail("${lname}/ cannot include ${h}: ${why}")
      else()
        math(EXPR allowed "${allowed} + 1")
      endif()
    endforeach()
  endforeach()
endforeach()
message(STATUS "upward includes refused: ${refused}; own and lower includes compiled: ${allowed}")
if(refused EQUAL 0 OR allowed EQUAL 0)
  fail("nothing was checked: no headers found under ${SOURCE_DIR}")
endif()

# 3.
set(around 0)
foreach(layer base devices control vmm)
  file(GLOB_RECURSE srcs ${SOURCE_DIR}/${layer}/*.c ${SOURCE_DIR}/${layer}/*.h)
  foreach(f ${srcs})
    file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<][^\">]*\\.\\.[/\\\\]")
    foreach(l ${lines})
      file(RELATIVE_PATH rel ${SOURCE_DIR} ${f})
      fail("${rel}: '${l}' reaches around the layers: include by the layer's name")
      math(EXPR around "${around} + 1")
    endforeach()
  endforeach()
endforeach()

# 4.
headers_of(control api_headers)
foreach(h ${api_headers} vmm/config.h devices/virtio_balloon.h devices/discard/queue.h)
  file(WRITE ${probe} "#include \"${h}\"\n")
  execute_process(COMMAND ${CC} -M ${ALL_FLAGS} ${probe}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE deps ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    fail("${h}: cannot list its dependencies: ${err}")
  elseif(deps MATCHES "liburing\\.h")
    fail("${h} pulls in <liburing.h>: only devices/discard/ may include it")
  endif()
endforeach()

if(failures GREATER 0)
  message(FATAL_ERROR "${failures} layering check(s) failed")
endif()
message(STATUS "layers: ok")
