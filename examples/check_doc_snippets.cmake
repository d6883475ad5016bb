# check_doc_snippets.cmake — keep the C snippets of docs/c-api.md true.
# Every ```c block is compiled with warnings as errors against the library:
#   - a block with #include lines is a file of its own; if it has main() it is
#     linked and run, and must exit 0 (the shared-counter program, which kills
#     a lock holder at an arbitrary moment, must print a counter equal to the
#     sum of what its workers added);
#   - any other block is compiled after mmkit.h as declarations or, if that
#     fails, as the body of a function whose parameters are the names such
#     fragments use (m, buf, len, n, fd).
# Everything is built with -O2: code that shares memory between processes is
# only right if it is right after the optimiser has had its way with it.
#
# -DDOC=docs/c-api.md -DCC=cc -DINCLUDE=include -DLIB=libmmkit.so -DWORKDIR=dir
cmake_minimum_required(VERSION 3.18)

foreach(v DOC CC INCLUDE LIB WORKDIR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "check_doc_snippets.cmake: -D${v}=... is required")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORKDIR}")
file(MAKE_DIRECTORY "${WORKDIR}")
get_filename_component(libdir "${LIB}" DIRECTORY)
set(flags -std=gnu11 -O2 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-unused-variable
  -Wno-unused-but-set-variable -Wno-unused-function -I${INCLUDE})

file(READ "${DOC}" doc)
set(count 0)
set(ran 0)
while(TRUE)
  string(FIND "${doc}" "\n```c\n" open)
  if(open EQUAL -1)
    break()
  endif()
  math(EXPR from "${open} + 6")
  string(SUBSTRING "${doc}" ${from} -1 doc)
  string(FIND "${doc}" "\n```\n" close)
  if(close EQUAL -1)
    message(FATAL_ERROR "unterminated ```c block in ${DOC}")
  endif()
  math(EXPR close "${close} + 1")
  string(SUBSTRING "${doc}" 0 ${close} block)
  string(SUBSTRING "${doc}" ${close} -1 doc)
  math(EXPR count "${count} + 1")
  set(src "${WORKDIR}/snippet${count}.c")
  if(block MATCHES "#include")
    file(WRITE "${src}" "${block}")
  else()
    # Declarations compile at file scope; statements inside a function.
    file(WRITE "${src}" "#include <mmkit.h>\n${block}")
    execute_process(COMMAND ${CC} ${flags} -c "${src}" -o "${WORKDIR}/snippet${count}.o"
      RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
    if(NOT rc EQUAL 0)
      file(WRITE "${src}" "#include <mmkit.h>\n#include <stdio.h>\n#include <string.h>\n"
        "void snippet(mmk_map *m, const char *buf, size_t len, size_t n, int fd) {\n"
        "${block}}\n")
    endif()
  endif()
  if(block MATCHES "int main\\(")
    set(exe "${WORKDIR}/snippet${count}")
    execute_process(COMMAND ${CC} ${flags} "${src}" "${LIB}" "-Wl,-rpath,${libdir}" -o "${exe}"
      RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "snippet ${count} does not build:\n${block}\n${err}")
    endif()
    execute_process(COMMAND "${exe}" RESULT_VARIABLE rc OUTPUT_VARIABLE out
      ERROR_VARIABLE err TIMEOUT 60)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "snippet ${count} exits with ${rc}:\n${block}\n${out}\n${err}")
    endif()
    if(block MATCHES "mmk-doc-counter")
      # 3 workers x 10000 increments, plus at least 1000 by the killed one.
      if(NOT out MATCHES "^counter = ([0-9]+), added = ([0-9]+)\n$")
        message(FATAL_ERROR "snippet ${count} prints no total: ${out}")
      endif()
      if(NOT "${CMAKE_MATCH_1}" STREQUAL "${CMAKE_MATCH_2}" OR "${CMAKE_MATCH_1}" LESS 31000)
        message(FATAL_ERROR "snippet ${count} prints a wrong total: ${out}")
      endif()
    endif()
    math(EXPR ran "${ran} + 1")
  else()
    execute_process(COMMAND ${CC} ${flags} -c "${src}" -o "${WORKDIR}/snippet${count}.o"
      RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "snippet ${count} does not compile:\n${block}\n${err}")
    endif()
  endif()
endwhile()
if(count LESS 10 OR ran LESS 2)
  message(FATAL_ERROR "only ${count} snippets (${ran} programs) found in ${DOC}")
endif()
message(STATUS "${count} C snippets compiled, ${ran} programs ran")
