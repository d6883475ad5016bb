# The 32-bit build. A gcc tree on x86-64 Linux configures a second tree,
# build/m32 (gcc -m32, cmake/m32.cmake, no sanitizers, no Python), in a CTest
# fixture: m32_build builds the plain C tests and mmk there, then every plain
# C test of this tree runs again as m32_<name> with the 32-bit binary, and the
# CLI tests as m32_cli_<suite> against the 32-bit mmk (quick mode). Where the
# kernel runs no 32-bit program, tests/m32/tree.sh falls back to qemu-i386;
# without gcc-multilib, the i386 PCRE2 or a way to run the programs,
# m32_build says so in one line and every m32_ test is skipped.
#
# test_big_file (a sparse 5 GiB file: offsets past 4 GiB through the C API,
# maps at offsets past 4 GiB) and cli_big_file (the same file through mmk)
# run in this tree and, as m32_test_big_file and m32_cli_big_file, in the
# 32-bit one, where the file is larger than the address space.
option(MMK_M32_TESTS "Also build and run the C and CLI tests with gcc -m32 (build/m32)" ON)
# Tests left out of the 32-bit run (each one runs here), to bound its time.
set(MMK_M32_SKIP "" CACHE STRING "C tests (names) not run in the 32-bit tree")
# Under qemu-i386 (kernels that run no 32-bit program) these C tests are
# skipped with the reason given: what qemu-user 7.2 cannot show (it accepts
# any madvise advice and does nothing, reports a SIGBUS address one page off,
# cuts mmap offsets to 32 bits, has no set_robust_list), or a run time beyond
# the CI budget under emulation (measured on the 2-core CI machine: 70 s to
# more than 300 s each). Where the kernel runs 32-bit programs they all run.
set(MMK_M32_QEMU_CANNOT test_map test_guard_order test_scenarios test_shm test_shm_portable)
set(MMK_M32_QEMU_SLOW test_map_threads test_no_cache test_pattern test_pattern_list test_regex_chunks
  test_regex_jit test_scan test_search test_tally)

# ENGINE: its ASan+UBSan run is the clang tree's alone. Each pass reads the
# 5 GiB of holes, and a second ASan run with gcc took 25-51 s of make test
# for the same check.
mmk_add_c_test(test_big_file ENGINE)
if(MMK_CLI_PYTHON3 AND TARGET mmk)
  add_test(NAME cli_big_file
    COMMAND ${CMAKE_COMMAND} -E env MMK=$<TARGET_FILE:mmk> MMK_SOURCE_DIR=${PROJECT_SOURCE_DIR}
      MMK_BUILD_DIR=${CMAKE_BINARY_DIR} MMK_TEST_TMP=${CMAKE_CURRENT_BINARY_DIR}/tmp
      ${MMK_CLI_PYTHON3} -m unittest -v test_big_file
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/cli)
  set_tests_properties(cli_big_file PROPERTIES LABELS "cli" TIMEOUT 600)
endif()

if(MMK_M32_TESTS AND CMAKE_C_COMPILER_ID STREQUAL "GNU" AND CMAKE_SYSTEM_NAME STREQUAL "Linux"
   AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64" AND CMAKE_SIZEOF_VOID_P EQUAL 8
   AND NOT CMAKE_CROSSCOMPILING AND NOT CMAKE_VERSION VERSION_LESS 3.19)
  set(MMK_M32_DIR ${CMAKE_BINARY_DIR}/m32)

  # Runs at the end of this directory, once every tests/*.cmake has registered
  # its tests.
  function(mmk_add_m32_tests)
    get_property(all_tests DIRECTORY PROPERTY TESTS)
    set(targets mmk)
    set(run sh ${PROJECT_SOURCE_DIR}/tests/m32/run.sh ${MMK_M32_DIR})
    foreach(t ${all_tests})
      get_test_property(${t} LABELS labels)
      if(NOT "c" IN_LIST labels OR NOT "plain" IN_LIST labels OR t IN_LIST MMK_M32_SKIP
         OR NOT TARGET ${t})
        continue()
      endif()
      list(APPEND targets ${t}) # C tests are named after their executable
      get_test_property(${t} ENVIRONMENT env)
      if(t IN_LIST MMK_M32_QEMU_CANNOT)
        list(APPEND env "MMK_M32_NOT_UNDER_QEMU=qemu-user cannot show what it checks")
      elseif(t IN_LIST MMK_M32_QEMU_SLOW)
        list(APPEND env "MMK_M32_NOT_UNDER_QEMU=too slow under emulation for make test")
      endif()
      add_test(NAME m32_${t} COMMAND ${run} ${MMK_M32_DIR}/tests/${t})
      set_tests_properties(m32_${t} PROPERTIES ENVIRONMENT "${env}" LABELS "c;m32"
        TIMEOUT 600 SKIP_RETURN_CODE 77 FIXTURES_REQUIRED mmk_m32)
    endforeach()
    if(MMK_CLI_PYTHON3)
      foreach(suite cli corpus grep grep_options follow big_file)
        add_test(NAME m32_cli_${suite}
          COMMAND sh -c "test -x \"$1/mmk-run\" || { echo \"skipped: $1/mmk not built\"; exit 77; }; if [ -s \"$1/emulator\" ] && [ -n \"$MMK_M32_NOT_UNDER_QEMU\" ]; then echo \"skipped: under qemu-i386: $MMK_M32_NOT_UNDER_QEMU\"; exit 77; fi; shift; exec \"$@\""
            sh ${MMK_M32_DIR} ${CMAKE_COMMAND} -E env MMK=${MMK_M32_DIR}/mmk-run
            MMK_SOURCE_DIR=${PROJECT_SOURCE_DIR} MMK_BUILD_DIR=${MMK_M32_DIR}
            MMK_TEST_TMP=${MMK_M32_DIR}/tests/tmp MMK_CLI_QUICK=1
            ${MMK_CLI_PYTHON3} -m unittest -v test_${suite}
          WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/cli)
        set_tests_properties(m32_cli_${suite} PROPERTIES LABELS "cli;m32" TIMEOUT 600
          SKIP_RETURN_CODE 77 FIXTURES_REQUIRED mmk_m32)
        if(NOT suite STREQUAL "big_file")
          # Hundreds of mmk runs each: more than 10 minutes under qemu-i386.
          set_tests_properties(m32_cli_${suite} PROPERTIES ENVIRONMENT
            "MMK_M32_NOT_UNDER_QEMU=too slow under emulation for make test (hundreds of mmk runs)")
        endif()
      endforeach()
    endif()
    add_test(NAME m32_build
      COMMAND sh ${PROJECT_SOURCE_DIR}/tests/m32/tree.sh ${PROJECT_SOURCE_DIR} ${MMK_M32_DIR}
        ${targets})
    set_tests_properties(m32_build PROPERTIES LABELS "m32" TIMEOUT 1200 COST 900
      SKIP_RETURN_CODE 77 FIXTURES_SETUP mmk_m32)
  endfunction()
  cmake_language(DEFER CALL mmk_add_m32_tests)
endif()
