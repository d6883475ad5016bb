# The sanitizer builds with clang as well (clang's UBSan and ASan find what
# gcc's miss, and the reverse). CMake cannot mix compilers in one tree, so a
# gcc tree configures a second tree, build/clang (CC=clang), in a CTest
# fixture: the test clang_build builds there the C tests' ASan+UBSan
# variants, the libFuzzer targets, mmk, the test drivers and the Python
# module for the default python3; then every C sanitizer test of this tree
# runs again as clang_<name> with the clang binary, every fuzz target as
# clang_<target>. So one ctest run shows all of them in one summary.
# Without clang or its runtime, clang_build says so in one line and every
# clang_ test is skipped. A clang tree needs none of this (its own variants
# are clang's, and tests/fuzz.cmake builds the fuzzers in it).
#
# The clang tree is also the POSIX-only configuration (-DMMK_POSIX_ONLY=ON:
# no mremap, memfd, MAP_POPULATE, membarrier, robust mutexes …, as on macOS
# and FreeBSD; docs/platforms.md), so the whole suite runs there, with the
# label posix_only: every C test (ASan+UBSan, a quarter of the random rounds:
# the gcc tree's plain runs draw them all), every CLI suite against that
# tree's mmk under ASan+UBSan (quick: the gcc tree runs them whole against
# its plain mmk), and the Python unit tests against that tree's module.
if(MMK_CLANG_TREE)
  set(MMK_CLANG_DIR ${CMAKE_BINARY_DIR}/clang)
  # The CLI suites (tests/cli/test_<suite>.py) that run against the clang
  # tree's mmk under ASan+UBSan, in quick mode (the gcc tree runs them whole
  # against its plain mmk; under gcc's ASan only the follow suite runs, for
  # the Linux-only inotify wait: tests/cli.cmake).
  set(MMK_CLANG_CLI_SUITES cli corpus grep grep_options follow merge tree sys)

  # Runs at the end of this directory, once every tests/*.cmake has registered
  # its tests.
  function(mmk_add_clang_tests)
    get_property(all_tests DIRECTORY PROPERTY TESTS)
    set(targets "")
    # The engine tests (mmk_add_c_test ENGINE) run under ASan+UBSan here only:
    # this tree has no test of theirs, and they take the C tests' environment.
    get_property(engine_asan GLOBAL PROPERTY MMK_CLANG_ONLY_ASAN)
    set(c_asan ${engine_asan})
    foreach(t ${all_tests})
      get_test_property(${t} LABELS labels)
      # ASan+UBSan only: the two compilers' UBSan and ASan instrument
      # differently, but TSan is one runtime (compiler-rt's) under both, and
      # the gcc TSan runs already cover every threaded test.
      if("c" IN_LIST labels AND "asan" IN_LIST labels)
        list(APPEND c_asan ${t})
      endif()
    endforeach()
    foreach(t ${c_asan})
      if(t IN_LIST engine_asan)
        set(env ${MMK_TEST_ENV} MMK_TEST_QUICK=1)
        set(labels c asan)
      else() # the gcc ASan test's environment, quick mode included
        get_test_property(${t} ENVIRONMENT env)
        get_test_property(${t} LABELS labels)
        list(REMOVE_ITEM labels plain)
      endif()
      list(APPEND targets ${t}) # C tests are named after their executable
      add_test(NAME clang_${t}
        COMMAND sh -c "test -x \"$1\" || { echo \"skipped: $1 not built\"; exit 77; }; exec \"$1\""
          sh ${MMK_CLANG_DIR}/tests/${t})
      set_tests_properties(clang_${t} PROPERTIES ENVIRONMENT "${env}" LABELS "${labels};clang;posix_only"
        TIMEOUT 300 SKIP_RETURN_CODE 77 FIXTURES_REQUIRED mmk_clang)
    endforeach()
    foreach(t ${MMK_FUZZ_TARGETS})
      list(APPEND targets ${t})
      mmk_add_fuzz_test(clang_${t} ${MMK_CLANG_DIR}/tests/${t} ${t})
      set_tests_properties(clang_${t} PROPERTIES FIXTURES_REQUIRED mmk_clang)
    endforeach()
    if(MMK_CLI_PYTHON3 AND TARGET mmk_asan)
      list(APPEND targets mmk_asan walk_driver_asan sys_driver)
      set(clang_mmk ${MMK_CLANG_DIR}/tests/mmk_asan)
      foreach(suite ${MMK_CLANG_CLI_SUITES})
        # The generated corpora are shared with this tree (MMK_BUILD_DIR).
        # LeakSanitizer's exit check costs about 55 ms per process here (a
        # program that only returns takes 70 ms instead of 16), and these
        # suites start mmk thousands of times: they look for memory errors
        # and undefined behaviour. Leaks are checked by the C tests, the
        # libFuzzer targets (fuzz_cli: mmk's option parser) and the gcc
        # tree's ASan follow suite, whose mmk runs grep, count and --follow.
        add_test(NAME clang_cli_${suite}
          COMMAND sh -c "test -x \"$1\" || { echo \"skipped: $1 not built\"; exit 77; }; shift; exec \"$@\""
            sh ${clang_mmk} ${CMAKE_COMMAND} -E env MMK=${clang_mmk}
            MMK_WALK_DRIVER=${MMK_CLANG_DIR}/tests/walk_driver_asan
            MMK_SYS_DRIVER=${MMK_CLANG_DIR}/tests/sys_driver
            MMK_SOURCE_DIR=${PROJECT_SOURCE_DIR} MMK_BUILD_DIR=${CMAKE_BINARY_DIR}
            MMK_TEST_TMP=${CMAKE_CURRENT_BINARY_DIR}/tmp
            ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
            MMK_CLI_QUICK=1 MMK_POSIX_ONLY=1 ${MMK_CLI_PYTHON3} -m unittest test_${suite}
          WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/cli)
        set_tests_properties(clang_cli_${suite} PROPERTIES LABELS "cli;asan;clang;posix_only"
          TIMEOUT 300 SKIP_RETURN_CODE 77 FIXTURES_REQUIRED mmk_clang)
      endforeach()
    endif()
    # The Python module of the POSIX-only build, for the default python3.
    set(clang_python "")
    if(TARGET mmkit_python AND mmk_default_python)
      list(APPEND targets mmkit_python)
      set(clang_python -DMMK_PYTHON=ON -DPython3_EXECUTABLE=${mmk_default_python}
        -DMMK_PYTHON_ALL_VERSIONS=OFF)
      add_test(NAME clang_python_unit
        COMMAND sh -c "test -d \"$1\" || { echo \"skipped: $1 not built\"; exit 77; }; shift; exec \"$@\""
          sh ${MMK_CLANG_DIR}/python ${CMAKE_COMMAND} -E env PYTHONPATH=${MMK_CLANG_DIR}/python
          MMK_TEST_TMP=${MMK_PY_TEST_TMP} MMK_POSIX_ONLY=1 MMK_TEST_DASK=0 MMK_TEST_QUICK=1 PYTHONDONTWRITEBYTECODE=1
          OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
          ${mmk_default_python} ${PROJECT_SOURCE_DIR}/python/tests/run_unit.py)
      set_tests_properties(clang_python_unit PROPERTIES LABELS "python;clang;posix_only"
        TIMEOUT 300 SKIP_RETURN_CODE 77 FIXTURES_REQUIRED mmk_clang)
    endif()
    add_test(NAME clang_build
      COMMAND sh ${PROJECT_SOURCE_DIR}/tests/fuzz/clang-tree.sh ${PROJECT_SOURCE_DIR}
        ${MMK_CLANG_DIR} -DMMK_FUZZ_LINES=${MMK_FUZZ_LINES} -DMMK_POSIX_ONLY=ON ${clang_python}
        ${targets})
    # COST: the fixtures start first (a clean tree has no timings yet).
    set_tests_properties(clang_build PROPERTIES LABELS "clang" TIMEOUT 1200 COST 1000
      SKIP_RETURN_CODE 77 FIXTURES_SETUP mmk_clang)
  endfunction()
  cmake_language(DEFER CALL mmk_add_clang_tests)
endif()
