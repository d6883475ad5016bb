# Windows: the library cross-built with mingw-w64 (cmake/mingw-w64.cmake) in
# build/win, configured and built by the fixture test win_build
# (tests/win/win-tree.sh, which also cross-compiles PCRE2 from Debian's source
# package and starts wine once), then each portable C test runs under wine as
# win_<name>. Plain builds only (no sanitizers under wine), to keep the added
# time small. Without mingw-w64, wine or the PCRE2 source, win_build says so in
# one line and every win_ test is skipped.
option(MMK_WIN_TESTS "Also cross-build for Windows (mingw-w64) and run the C tests under wine" ON)

if(MMK_TESTS)
  # Portable on both platforms: registered here for Linux as well.
  mmk_add_c_test(test_platform THREADS)
endif()

if(MMK_WIN_TESTS AND NOT WIN32 AND NOT CMAKE_CROSSCOMPILING)
  set(MMK_WIN_DIR ${CMAKE_BINARY_DIR}/win)
  # The C tests that run under wine as they are.
  set(MMK_WIN_C_TESTS test_error test_platform test_regex_jit test_pattern test_shm_portable
    test_scan test_search test_tally test_words test_literal test_pattern_list test_regex_chunks
    test_timerange)
  # The others, each with the reason it does not (yet) run on Windows.
  set(MMK_WIN_SKIPPED
    "test_guard|POSIX signals: SIGBUS chains, sigaction, fork"
    "test_guard_order|POSIX signals: handler order and re-arming"
    "test_map|fork, /proc and POSIX mmap/ftruncate checks"
    "test_map_name|Linux /proc/PID/maps names"
    "test_map_space|Linux fallocate and sparse files"
    "test_map_threads|setrlimit and POSIX truncation under threads"
    "test_map_follow|POSIX truncation of a mapped file (Windows refuses it)"
    "test_core_views|setrlimit and POSIX truncation"
    "test_scenarios|POSIX mmap and truncation of mapped files"
    "test_shm|fork and other users (its portable part is test_shm_portable)"
    "test_decode|its compressed inputs are made by gzip, zstd, xz and bzip2 through the POSIX shell (system), and the Windows build has no decoders"
    "test_decode_oom|fork (sys/wait.h)"
    "test_match_oom|allocation failure injection needs glibc (it checks nothing elsewhere)")
  # MMK_TEST_QUICK: the randomized tests draw fewer rounds (check_quick in
  # tests/check.h): every program start and system call is slower under wine.
  # The win_ tests share one persistent wine server (win-tree.sh), whose
  # processes take about a tenth of a core while it lives (measured: 38 s of
  # CPU each for two winedevice.exe and 34 s for wineserver in 16 minutes).
  # A cost above every measured one (tests/ctest-costs.txt seeds the others)
  # starts them together right after win_build, so win_stop ends it early
  # instead of after the whole run.
  set(MMK_WIN_COST 900)
  set(win_env "WINEPREFIX=${MMK_WIN_DIR}/wine" "WINEDEBUG=-all" "MMK_TEST_QUICK=1"
    "MMK_TEST_TMP=${CMAKE_CURRENT_BINARY_DIR}/tmp" "MMK_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  foreach(t ${MMK_WIN_C_TESTS})
    add_test(NAME win_${t}
      COMMAND sh -c "test -f \"$1\" || { echo \"skipped: $1 not built\"; exit 77; }; exec wine \"$1\""
        sh ${MMK_WIN_DIR}/tests/${t}.exe)
    set_tests_properties(win_${t} PROPERTIES ENVIRONMENT "${win_env}" LABELS "c;win"
      TIMEOUT 300 SKIP_RETURN_CODE 77 FIXTURES_REQUIRED mmk_win COST ${MMK_WIN_COST})
  endforeach()
  foreach(entry ${MMK_WIN_SKIPPED})
    string(REPLACE "|" ";" parts "${entry}")
    list(GET parts 0 t)
    list(GET parts 1 why)
    add_test(NAME win_${t} COMMAND sh -c "echo \"skipped on Windows: $1\"; exit 77" sh "${why}")
    set_tests_properties(win_${t} PROPERTIES LABELS "c;win" SKIP_RETURN_CODE 77)
  endforeach()
  # mmk.exe: the basic cases of tests/cli/test_cli.py under wine, and the
  # Windows sys layer (sys_driver.exe) compared byte for byte with the POSIX
  # one. run_wrapped.py exits 77 when mmk.exe is missing.
  find_program(MMK_WIN_PYTHON3 NAMES python3 python)
  if(MMK_WIN_PYTHON3)
    add_test(NAME win_cli
      COMMAND ${CMAKE_COMMAND} -E env MMK=${MMK_WIN_DIR}/mmk.exe MMK_CLI_WRAPPER=wine
        MMK_CLI_QUICK=1 ${MMK_WIN_PYTHON3} ${PROJECT_SOURCE_DIR}/tests/cli/run_wrapped.py
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/tests/cli)
    set_tests_properties(win_cli PROPERTIES ENVIRONMENT "${win_env}" LABELS "cli;win"
      TIMEOUT 600 SKIP_RETURN_CODE 77 FIXTURES_REQUIRED mmk_win COST ${MMK_WIN_COST})
    if(TARGET sys_driver)
      add_test(NAME win_cli_sys
        COMMAND sh -c "test -f \"$3\" || { echo \"skipped: $3 not built\"; exit 77; }; exec env MMK_SYS_DRIVER=\"$2\" MMK_SYS_DRIVER_WIN=\"$3\" MMK_CLI_WRAPPER=wine \"$1\" -m unittest -v test_sys.TestWindowsSameAsPosix"
          sh ${MMK_WIN_PYTHON3} $<TARGET_FILE:sys_driver> ${MMK_WIN_DIR}/tests/sys_driver.exe
        WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/tests/cli)
      set_tests_properties(win_cli_sys PROPERTIES ENVIRONMENT "${win_env}" LABELS "cli;win"
        TIMEOUT 300 SKIP_RETURN_CODE 77 FIXTURES_REQUIRED mmk_win COST ${MMK_WIN_COST})
    endif()
  endif()
  add_test(NAME win_build
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/win/win-tree.sh ${PROJECT_SOURCE_DIR} ${MMK_WIN_DIR}
      ${MMK_WIN_C_TESTS} mmk sys_driver)
  set_tests_properties(win_build PROPERTIES LABELS "win" TIMEOUT 1200 SKIP_RETURN_CODE 77 COST 1000
    FIXTURES_SETUP mmk_win)
  # win_build leaves a persistent wine server running (see win-tree.sh);
  # this stops it once the last win_ test is done.
  add_test(NAME win_stop
    COMMAND sh -c "command -v wineserver >/dev/null || { echo \"skipped: no wineserver\"; exit 77; }; test -d \"$1\" || { echo \"skipped: no wine prefix\"; exit 77; }; WINEPREFIX=\"$1\" wineserver -k 2>/dev/null; echo \"wine server of $1 stopped\"" sh ${MMK_WIN_DIR}/wine)
  set_tests_properties(win_stop PROPERTIES LABELS "win" SKIP_RETURN_CODE 77
    FIXTURES_CLEANUP mmk_win COST ${MMK_WIN_COST})
endif()
