# Fails when a doctest executable (BIN) has a test case whose name ctest
# cannot carry: doctest_discover_tests registers each case by name, and a ';'
# splits the name into two ctest tests whose filters match no case, so the
# case never runs while ctest reports both halves as passed.
# Usage: cmake -DBIN=<test executable> -P check_test_names.cmake
execute_process(COMMAND "${BIN}" --list-test-cases --no-version=true
                OUTPUT_VARIABLE listing ERROR_VARIABLE errors RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${BIN} --list-test-cases failed (${rc}): ${errors}")
endif()
string(REGEX MATCH "[^\n]*;[^\n]*" bad "${listing}")
if(bad)
  message(FATAL_ERROR "a test case name holds ';', which ctest splits, so the case never "
                      "runs under ctest; use ',' instead: ${bad}")
endif()
