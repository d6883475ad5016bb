# The matchers (src/literal.c, src/regex.c, src/pattern.c): every CPU path of
# the literal matcher against a naive reference, and the regex shapes
# (literal, prefiltered, plain PCRE2) against each other and Python's re.
mmk_add_c_test(test_literal ENGINE)
mmk_add_c_test(test_pattern THREADS ENGINE)

# Allocation failure injection replaces malloc itself, which the sanitizers
# also do: plain build only.
add_executable(test_match_oom test_match_oom.c)
target_include_directories(test_match_oom PRIVATE ${CMAKE_CURRENT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/src)
target_compile_options(test_match_oom PRIVATE ${MMK_WARNINGS})
target_compile_definitions(test_match_oom PRIVATE _GNU_SOURCE _FILE_OFFSET_BITS=64)
target_link_libraries(test_match_oom PRIVATE mmkit_static)
add_test(NAME test_match_oom COMMAND test_match_oom)
set_tests_properties(test_match_oom PROPERTIES ENVIRONMENT "${MMK_TEST_ENV}" LABELS "c;plain" TIMEOUT 300)
# PCRE2's JIT against its interpreter: mmkit never reports a wrong JIT answer.
mmk_add_c_test(test_regex_jit ENGINE)
# Items whose answer depends on where a search starts are refused; every other
# pattern counts the same for every chunk size and thread count.
mmk_add_c_test(test_regex_chunks THREADS ENGINE)
# Pattern lists (grep -e/-f), -x, groups: against each pattern alone, PCRE2's
# own anchoring and GNU grep.
mmk_add_c_test(test_pattern_list THREADS ENGINE)
# Counts per value (mmk_count_by) against a PCRE2 reference, grep -oP | sort |
# uniq -c and Python's re, over every input kind, chunk size and thread count.
mmk_add_c_test(test_tally THREADS ENGINE)
