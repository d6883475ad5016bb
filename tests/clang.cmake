# The sanitizer builds with clang as well (clang's UBSan and ASan find what
# gcc's miss, and the reverse). CMake cannot mix compilers in one tree, so a
# gcc tree configures a second tree, build/clang (CC=clang, no Python), in a
# CTest fixture: the test clang_build builds the C tests' ASan+UBSan
# variants and the libFuzzer targets there, then every C sanitizer test of
# this tree runs again as clang_<name> with the clang binary, and every fuzz
# target as clang_<target>. So one ctest run shows all of them in one summary.
# Without clang or its runtime, clang_build says so in one line and every
# clang_ test is skipped. A clang tree needs none of this (its own variants
# are clang's, and tests/fuzz.cmake builds the fuzzers in it).
if(MMK_SANITIZERS AND MMK_CLANG_TESTS AND NOT CMAKE_C_COMPILER_ID MATCHES "Clang"
   AND NOT CMAKE_VERSION VERSION_LESS 3.19)
  set(MMK_CLANG_DIR ${CMAKE_BINARY_DIR}/clang)

  # Runs at the end of this directory, once every tests/*.cmake has registered
  # its tests.
  function(mmk_add_clang_tests)
    get_property(all_tests DIRECTORY PROPERTY TESTS)
    set(targets "")
    foreach(t ${all_tests})
      get_test_property(${t} LABELS labels)
      # ASan+UBSan only: the two compilers' UBSan and ASan instrument
      # differently, but TSan is one runtime (compiler-rt's) under both, and
      # the gcc TSan runs already cover every threaded test.
      if(NOT "c" IN_LIST labels OR NOT "asan" IN_LIST labels)
        continue()
      endif()
      list(APPEND targets ${t}) # C tests are named after their executable
      get_test_property(${t} ENVIRONMENT env)
      add_test(NAME clang_${t}
        COMMAND sh -c "test -x \"$1\" || { echo \"skipped: $1 not built\"; exit 77; }; exec \"$1\""
          sh ${MMK_CLANG_DIR}/tests/${t})
      list(REMOVE_ITEM labels plain)
      set_tests_properties(clang_${t} PROPERTIES ENVIRONMENT "${env}" LABELS "${labels};clang"
        TIMEOUT 300 SKIP_RETURN_CODE 77 FIXTURES_REQUIRED mmk_clang)
    endforeach()
    foreach(t ${MMK_FUZZ_TARGETS})
      list(APPEND targets ${t})
      mmk_add_fuzz_test(clang_${t} ${MMK_CLANG_DIR}/tests/${t} ${t})
      set_tests_properties(clang_${t} PROPERTIES FIXTURES_REQUIRED mmk_clang)
    endforeach()
    add_test(NAME clang_build
      COMMAND sh ${PROJECT_SOURCE_DIR}/tests/fuzz/clang-tree.sh ${PROJECT_SOURCE_DIR}
        ${MMK_CLANG_DIR} -DMMK_FUZZ_LINES=${MMK_FUZZ_LINES} ${targets})
    set_tests_properties(clang_build PROPERTIES LABELS "clang" TIMEOUT 1200
      SKIP_RETURN_CODE 77 FIXTURES_SETUP mmk_clang)
  endfunction()
  cmake_language(DEFER CALL mmk_add_clang_tests)
endif()
