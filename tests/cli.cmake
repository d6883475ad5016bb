# End-to-end tests of the mmk tool (tests/cli/*.py, Python standard library
# only). They run the built binary, named by $MMK, and compare it with grep,
# wc and Python on the same bytes. Two CTest entries per build of mmk, so they
# run in parallel; with MMK_SANITIZERS the same tests also run against
# mmk_asan (mmk and the library under ASan+UBSan): here only the follow
# suite when the clang tree runs all of them under ASan (tests/clang.cmake).
find_program(MMK_CLI_PYTHON3 NAMES python3 python)

set(MMK_CLI_VARIANTS mmk)
if(MMK_SANITIZERS AND TARGET mmkit_asan AND TARGET mmk)
  set(asan_flags -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  file(GLOB MMK_CLI_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/cli/*.c)
  list(FILTER MMK_CLI_SOURCES EXCLUDE REGEX "/sys_win\\.c$") # sanitizer builds: POSIX only
  add_executable(mmk_asan ${MMK_CLI_SOURCES})
  target_compile_options(mmk_asan PRIVATE ${MMK_WARNINGS} ${asan_flags})
  target_compile_definitions(mmk_asan PRIVATE _GNU_SOURCE _FILE_OFFSET_BITS=64 _TIME_BITS=64)
  target_link_libraries(mmk_asan PRIVATE mmkit_asan)
  target_link_options(mmk_asan PRIVATE ${asan_flags})
  list(APPEND MMK_CLI_VARIANTS mmk_asan)
endif()

if(MMK_CLI_PYTHON3 AND TARGET mmk)
  foreach(exe ${MMK_CLI_VARIANTS})
    if(exe STREQUAL mmk)
      set(suffix "")
      set(labels "cli")
      set(quick "")
    else()
      set(suffix "_asan")
      set(labels "cli;asan")
      set(quick MMK_CLI_QUICK=1)
    endif()
    # Under gcc's ASan only the follow suite (its inotify wait is Linux-only):
    # the clang tree runs every suite under ASan in the POSIX-only build
    # (tests/clang.cmake), which shares all the rest of mmk's code.
    set(suites cli corpus grep grep_options follow merge)
    if(NOT exe STREQUAL mmk AND MMK_CLANG_TREE)
      set(suites follow)
    endif()
    foreach(suite ${suites})
      add_test(NAME cli_${suite}${suffix}
        COMMAND ${CMAKE_COMMAND} -E env
          MMK=$<TARGET_FILE:${exe}>
          MMK_SOURCE_DIR=${PROJECT_SOURCE_DIR}
          MMK_BUILD_DIR=${CMAKE_BINARY_DIR}
          MMK_TEST_TMP=${CMAKE_CURRENT_BINARY_DIR}/tmp
          ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
          UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
          ${quick}
          ${MMK_CLI_PYTHON3} -m unittest -v test_${suite}
        WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/cli)
      set_tests_properties(cli_${suite}${suffix} PROPERTIES LABELS "${labels}" TIMEOUT 300)
    endforeach()
  endforeach()
endif()

# mmk's system interface alone (cli/sys.h through tests/cli/sys_driver.c):
# the POSIX implementation against Python's view of the same files. A Windows
# build of the driver (sys_win.c, run under wine) is compared byte for byte
# with it when MMK_SYS_DRIVER_WIN is set (tests/win.cmake can pass it).
set(MMK_SYS_DRIVER_WIN "" CACHE FILEPATH
  "sys_driver.exe of a Windows build, compared with the POSIX one under wine by cli_sys")
if(WIN32)
  # The Windows tree builds sys_driver.exe only; the host tree's cli_sys runs
  # it under wine when MMK_SYS_DRIVER_WIN names it.
  add_executable(sys_driver ${PROJECT_SOURCE_DIR}/tests/cli/sys_driver.c
    ${PROJECT_SOURCE_DIR}/cli/sys_win.c)
  target_include_directories(sys_driver PRIVATE ${PROJECT_SOURCE_DIR}/cli)
  target_compile_options(sys_driver PRIVATE ${MMK_WARNINGS})
  target_link_libraries(sys_driver PRIVATE shell32)
elseif(MMK_CLI_PYTHON3)
  add_executable(sys_driver ${PROJECT_SOURCE_DIR}/tests/cli/sys_driver.c
    ${PROJECT_SOURCE_DIR}/cli/sys_unix.c)
  target_include_directories(sys_driver PRIVATE ${PROJECT_SOURCE_DIR}/cli)
  target_compile_options(sys_driver PRIVATE ${MMK_WARNINGS})
  target_compile_definitions(sys_driver PRIVATE _GNU_SOURCE _FILE_OFFSET_BITS=64)
  target_link_libraries(sys_driver PRIVATE Threads::Threads)
  add_test(NAME cli_sys
    COMMAND ${CMAKE_COMMAND} -E env
      MMK_SYS_DRIVER=$<TARGET_FILE:sys_driver>
      MMK_SYS_DRIVER_WIN=${MMK_SYS_DRIVER_WIN}
      MMK_TEST_TMP=${CMAKE_CURRENT_BINARY_DIR}/tmp
      ${MMK_CLI_PYTHON3} -m unittest -v test_sys
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/cli)
  set_tests_properties(cli_sys PROPERTIES LABELS "cli" TIMEOUT 300)
endif()
