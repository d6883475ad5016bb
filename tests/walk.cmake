# The directory walk of mmk (cli/walk.c): tests/cli/test_tree.py compares
# `mmk grep` over trees with GNU grep -r, and runs walk_driver (a small grep
# over cli/walk.c alone, tests/cli/walk_driver.c) for what only the walk
# shows: order under concurrency, captured output, streaming, -q. With
# MMK_SANITIZERS, the driver also runs under ASan+UBSan and under TSan.
find_program(MMK_TREE_PYTHON3 NAMES python3 python)

set(walk_driver_sources ${PROJECT_SOURCE_DIR}/tests/cli/walk_driver.c
  ${PROJECT_SOURCE_DIR}/cli/walk.c ${PROJECT_SOURCE_DIR}/cli/output.c
  ${PROJECT_SOURCE_DIR}/cli/progress.c ${PROJECT_SOURCE_DIR}/cli/sys_unix.c)
set(walk_variants plain)
if(MMK_SANITIZERS)
  list(APPEND walk_variants asan tsan)
endif()
foreach(v ${walk_variants})
  if(v STREQUAL plain)
    set(exe walk_driver)
    set(mmk_exe mmk)
    set(lib mmkit_static)
    set(flags "")
    set(suffix "")
  else()
    set(exe walk_driver_${v})
    set(lib mmkit_${v})
    set(suffix _${v})
    if(v STREQUAL asan)
      set(mmk_exe mmk_asan)
      set(flags -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
    else()
      set(mmk_exe "")
      set(flags -fsanitize=thread)
    endif()
  endif()
  add_executable(${exe} ${walk_driver_sources})
  target_include_directories(${exe} PRIVATE ${PROJECT_SOURCE_DIR}/cli)
  target_compile_options(${exe} PRIVATE ${MMK_WARNINGS} ${flags})
  target_compile_definitions(${exe} PRIVATE _GNU_SOURCE _FILE_OFFSET_BITS=64)
  target_link_libraries(${exe} PRIVATE ${lib})
  target_link_options(${exe} PRIVATE ${flags})
  if(MMK_TREE_PYTHON3 AND (mmk_exe STREQUAL "" OR TARGET ${mmk_exe}))
    if(mmk_exe STREQUAL "" OR (v STREQUAL asan AND MMK_CLANG_TREE))
      # TSan, and gcc's ASan where the clang tree runs test_tree against its
      # mmk under ASan (tests/clang.cmake): the driver's tests only.
      set(mmk_env MMK_TREE_DRIVER_ONLY=1)
    else()
      set(mmk_env MMK=$<TARGET_FILE:${mmk_exe}>)
    endif()
    if(NOT v STREQUAL plain)
      list(APPEND mmk_env MMK_CLI_QUICK=1)  # a smaller tree under the sanitizers
    endif()
    add_test(NAME cli_tree${suffix}
      COMMAND ${CMAKE_COMMAND} -E env
        ${mmk_env}
        MMK_WALK_DRIVER=$<TARGET_FILE:${exe}>
        MMK_SOURCE_DIR=${PROJECT_SOURCE_DIR}
        MMK_BUILD_DIR=${CMAKE_BINARY_DIR}
        MMK_TEST_TMP=${CMAKE_CURRENT_BINARY_DIR}/tmp
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
        TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
        ${MMK_TREE_PYTHON3} -m unittest -v test_tree
      WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/cli)
    set_tests_properties(cli_tree${suffix} PROPERTIES LABELS "cli;tree;${v}" TIMEOUT 600)
  endif()
endforeach()
