# libFuzzer targets (tests/fuzz/): clang only, built with
# -fsanitize=fuzzer,address,undefined against a library built for coverage.
#   fuzz_pattern  compile + mmk_count / mmk_matches vs naive and PCRE2 references
#   fuzz_words    mmk_word_counts and mmk_count_lines vs references
#   fuzz_cli      mmk's argument parser (cli/options.c)
#   fuzz_search   mmk_search (chunked, threads) vs the reference searcher
# In a clang tree they are built here and each runs for a few seconds over its
# seed corpus as a CTest test; a gcc tree builds them in build/clang instead
# (tests/clang.cmake). `make fuzz` runs each for minutes.
set(MMK_FUZZ_TARGETS fuzz_pattern fuzz_words fuzz_cli fuzz_search)
set(MMK_FUZZ_SECONDS 5 CACHE STRING "Seconds each fuzz target runs during ctest")
option(MMK_FUZZ_LINES "fuzz_pattern also checks MMK_PAT_LINES" ON)

# Register the CTest run of fuzz target `target` built at `exe` (a path: the
# binary may live in another build tree). tests/fuzz/run.sh skips (77) when
# the binary is missing.
function(mmk_add_fuzz_test name exe target)
  set(extra "")
  if(target STREQUAL fuzz_cli)
    set(extra -close_fd_mask=2) # usage errors on every run; failures still show
  endif()
  add_test(NAME ${name}
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/fuzz/run.sh ${exe} ${MMK_FUZZ_SECONDS}
      ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${target} ${CMAKE_CURRENT_BINARY_DIR}/fuzz-work/${target}
      ${extra})
  set_tests_properties(${name} PROPERTIES LABELS "fuzz;clang" TIMEOUT 300 SKIP_RETURN_CODE 77)
endfunction()

if(CMAKE_C_COMPILER_ID MATCHES "Clang")
  include(CheckCSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS -fsanitize=fuzzer,address,undefined)
  set(CMAKE_REQUIRED_LINK_OPTIONS -fsanitize=fuzzer,address,undefined)
  check_c_source_compiles([[
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }
]] MMK_HAVE_LIBFUZZER)
  unset(CMAKE_REQUIRED_FLAGS)
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
  if(NOT MMK_HAVE_LIBFUZZER)
    message(STATUS "libFuzzer not available (libclang-rt-dev): fuzz targets not built")
  endif()
endif()

if(MMK_HAVE_LIBFUZZER)
  set(fuzz_flags -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=all)
  # mmk_add_library names its sources relative to the top directory.
  set(saved_sources ${MMK_SOURCES})
  list(TRANSFORM MMK_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/)
  mmk_add_library(mmkit_fuzz STATIC ${fuzz_flags})
  set(MMK_SOURCES ${saved_sources})
  target_link_libraries(mmkit_fuzz INTERFACE PkgConfig::PCRE2 Threads::Threads)

  foreach(t ${MMK_FUZZ_TARGETS})
    set(srcs ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/${t}.c)
    if(t STREQUAL fuzz_cli)
      list(APPEND srcs ${PROJECT_SOURCE_DIR}/cli/options.c ${PROJECT_SOURCE_DIR}/cli/output.c
        ${PROJECT_SOURCE_DIR}/cli/progress.c ${PROJECT_SOURCE_DIR}/cli/sys_unix.c)
    endif()
    add_executable(${t} ${srcs})
    target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/cli)
    target_compile_options(${t} PRIVATE ${MMK_WARNINGS} -fsanitize=fuzzer,address,undefined
      -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_compile_definitions(${t} PRIVATE _GNU_SOURCE _FILE_OFFSET_BITS=64
      MMK_FUZZ_LINES=$<BOOL:${MMK_FUZZ_LINES}>)
    target_link_libraries(${t} PRIVATE mmkit_fuzz)
    target_link_options(${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    mmk_add_fuzz_test(${t} $<TARGET_FILE:${t}> ${t})
  endforeach()
  add_custom_target(fuzz_targets DEPENDS ${MMK_FUZZ_TARGETS})
endif()
