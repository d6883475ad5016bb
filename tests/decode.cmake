# The decoders (src/decode.c): gzip (ISA-L and zlib), zstd, xz, bzip2 and
# pass-through against the command-line tools; formats whose tool or library
# is missing are skipped with one line each. THREADS: the decoding thread
# (every case runs with it and without) under TSan too.
mmk_add_c_test(test_decode THREADS ENGINE)
# It runs the command-line tools for every case: under the sanitizers, on a
# busy 2-core machine, that takes longer than the default 300 s.
foreach(v asan tsan)
  if(TEST test_decode_${v})
    set_tests_properties(test_decode_${v} PROPERTIES TIMEOUT 900)
  endif()
endforeach()
# Allocation failures injected into every allocation of the decoders and their
# libraries; it replaces malloc, so it runs without the sanitizers.
add_executable(test_decode_oom test_decode_oom.c)
target_include_directories(test_decode_oom PRIVATE ${CMAKE_CURRENT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/src)
target_compile_options(test_decode_oom PRIVATE ${MMK_WARNINGS})
target_compile_definitions(test_decode_oom PRIVATE _GNU_SOURCE _FILE_OFFSET_BITS=64)
target_link_libraries(test_decode_oom PRIVATE mmkit_static)
add_test(NAME test_decode_oom COMMAND test_decode_oom)
set_tests_properties(test_decode_oom PROPERTIES ENVIRONMENT "${MMK_TEST_ENV}" LABELS "c;plain" TIMEOUT 300)
