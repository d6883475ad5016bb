# The documentation stays true: docs/mmk.1 renders without groff warnings, the
# shell completions in completions/ parse (bash; zsh and fish when installed),
# and every long option that `mmk --help` / `mmk COMMAND --help` prints is
# described in docs/cli.md and docs/mmk.1 and offered by the three
# completions (tests/docs/check_docs.py; a missing groff/zsh/fish is a "skip"
# line in its output, not a pass of that check).
find_program(MMK_DOCS_PYTHON3 NAMES python3 python)
if(MMK_DOCS_PYTHON3 AND TARGET mmk)
  add_test(NAME docs_consistency
    COMMAND ${CMAKE_COMMAND} -E env MMK=$<TARGET_FILE:mmk>
      ${MMK_DOCS_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/docs/check_docs.py ${PROJECT_SOURCE_DIR})
  set_tests_properties(docs_consistency PROPERTIES LABELS "docs;cli" TIMEOUT 120)
endif()
