# Installs the build tree into a scratch prefix, then builds and runs a tiny
# consumer twice: once through find_package(mproc), once through pkg-config.
foreach(v MPROC_BUILD_DIR MPROC_SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "${v} is required")
  endif()
endforeach()
if(NOT CONFIG)
  set(CONFIG Debug)
endif()
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${MPROC_BUILD_DIR} --prefix ${prefix} --config ${CONFIG})

foreach(mode cmake pkgconfig)
  set(bin ${WORK_DIR}/build-${mode})
  run(${CMAKE_COMMAND} -S ${MPROC_SOURCE_DIR}/tests/consumer -B ${bin}
      -DCONSUME_WITH=${mode} -DCMAKE_PREFIX_PATH=${prefix}
      -DCMAKE_BUILD_TYPE=${CONFIG})
  run(${CMAKE_COMMAND} --build ${bin})
  run(${bin}/consumer)
  if(NOT last_output MATCHES "consumer ok")
    message(FATAL_ERROR "consumer (${mode}) printed: ${last_output}")
  endif()
  message(STATUS "consumer via ${mode}: ${last_output}")
endforeach()
