# Connection tests beyond the CUnit suites: Python interop, and the
# libFuzzer targets for the frame decoder and the handshake.
add_executable(mproc_conn_peer ${CMAKE_CURRENT_SOURCE_DIR}/interop/conn_peer.c)
target_compile_options(mproc_conn_peer PRIVATE ${MPROC_WARNINGS})
target_link_libraries(mproc_conn_peer PRIVATE mproc::mproc)
add_executable(mproc_value_peer ${CMAKE_CURRENT_SOURCE_DIR}/interop/value_peer.c)
target_compile_options(mproc_value_peer PRIVATE ${MPROC_WARNINGS})
target_link_libraries(mproc_value_peer PRIVATE mproc::mproc)

# Python's multiprocessing speaks AF_UNIX to us only on POSIX; skipped only
# when python3 is absent.
if(NOT WIN32 AND NOT CMAKE_CROSSCOMPILING)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    add_test(NAME conn_interop
      COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/interop/conn_interop.py
              $<TARGET_FILE:mproc_conn_peer>)
    set_tests_properties(conn_interop PROPERTIES TIMEOUT 240 LABELS interop)
    add_test(NAME value_interop
      COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/interop/value_interop.py
              $<TARGET_FILE:mproc_value_peer>)
    set_tests_properties(value_interop PROPERTIES TIMEOUT 300 LABELS interop)
  else()
    message(STATUS "python3 not found: conn_interop is skipped")
  endif()
endif()

if(MPROC_FUZZ AND NOT WIN32) # the targets feed a POSIX socketpair
  mproc_add_fuzzer(fuzz_frame ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_frame.c
                   ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/frame)
  mproc_add_fuzzer(fuzz_handshake ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_handshake.c
                   ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/handshake)
endif()
