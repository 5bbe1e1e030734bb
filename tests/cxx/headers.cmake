# Compiles each of HEADERS alone, then SOURCE, as C++${STD} with COMPILER
# and -Wall -Wextra -Wpedantic -Werror; then SOURCE with
# MPROC_ONE_TOO_MANY, which must fail on MP_ARGS's static_assert.
#   cmake -DCOMPILER= -DSTD= -DINCLUDES=a;b -DHEADERS=mproc/x.h;...
#         -DSOURCE= -DWORK= -P headers.cmake
set(flags -std=c++${STD} -fsyntax-only -Wall -Wextra -Wpedantic -Werror)
foreach(dir IN LISTS INCLUDES)
  list(APPEND flags -I${dir})
endforeach()
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(failed 0)

function(compile what file)
  execute_process(COMMAND ${COMPILER} ${flags} ${ARGN} ${file}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  set(rc ${rc} PARENT_SCOPE)
  set(out "${out}" PARENT_SCOPE)
endfunction()

foreach(h IN LISTS HEADERS)
  string(MAKE_C_IDENTIFIER ${h} id)
  file(WRITE ${WORK}/${id}.cpp "#include <${h}>\n")
  compile(${h} ${WORK}/${id}.cpp)
  if(NOT rc EQUAL 0)
    message(SEND_ERROR "<${h}> as C++${STD}:\n${out}")
    set(failed 1)
  endif()
endforeach()

compile(source ${SOURCE})
if(NOT rc EQUAL 0)
  message(SEND_ERROR "${SOURCE} as C++${STD}:\n${out}")
  set(failed 1)
endif()

compile(source ${SOURCE} -DMPROC_ONE_TOO_MANY)
if(rc EQUAL 0 OR NOT out MATCHES "more than MP_ARGS_INLINE_MAX")
  message(SEND_ERROR "MP_ARGS with one argument too many, as C++${STD}: "
                     "compiled or failed otherwise:\n${out}")
  set(failed 1)
endif()

if(failed)
  message(FATAL_ERROR "C++${STD} with ${COMPILER}: failed")
endif()
message(STATUS "C++${STD} with ${COMPILER}: every header and ${SOURCE}")
