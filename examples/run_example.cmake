# run_example.cmake — run one example on known input and check what it prints
# and what it leaves in its files. Used by the example tests (see
# CMakeLists.txt here); run by hand with:
#   cmake -DEXAMPLE=hello_map -DEXE=build/examples/hello_map -DWORKDIR=/tmp/x -P run_example.cmake
#   cmake -DEXAMPLE=hello_map -DPYTHON=python3 -DSCRIPT=examples/hello_map.py -DWORKDIR=/tmp/x -P ...
#
# EXAMPLE  hello_map | count_word | shared_counter | image_invert | record_store
# EXE      the C example's executable, or
# PYTHON + SCRIPT  an interpreter and the Python example
# WORKDIR  a scratch directory (emptied first)
cmake_minimum_required(VERSION 3.18)

foreach(v EXAMPLE WORKDIR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_example.cmake: -D${v}=... is required")
  endif()
endforeach()
if(DEFINED PYTHON)
  set(run "${PYTHON}" "${SCRIPT}")
  set(lang python)
else()
  set(run "${EXE}")
  set(lang c)
endif()
file(REMOVE_RECURSE "${WORKDIR}")
file(MAKE_DIRECTORY "${WORKDIR}")

# Run the example with ARGN in WORKDIR; it must exit 0. Its stdout goes to out_var.
function(run_ok out_var)
  execute_process(COMMAND ${run} ${ARGN} WORKING_DIRECTORY "${WORKDIR}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
  if(NOT rc STREQUAL "0")
    message(FATAL_ERROR "${EXAMPLE} (${lang}) ${ARGN}: exit status ${rc}\n"
      "--- stdout ---\n${out}--- stderr ---\n${err}")
  endif()
  if(err)
    message(STATUS "${EXAMPLE} (${lang}) stderr:\n${err}")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

function(expect_equal what got want)
  if(NOT got STREQUAL want)
    message(FATAL_ERROR "${EXAMPLE} (${lang}): ${what} differs\n"
      "--- expected ---\n${want}\n--- got ---\n${got}\n---")
  endif()
endfunction()

# "00".."ff" for each byte value, to build expected file contents in hex.
function(byte_hex_table out_var)
  set(digits 0 1 2 3 4 5 6 7 8 9 a b c d e f)
  set(table "")
  foreach(hi ${digits})
    foreach(lo ${digits})
      list(APPEND table "${hi}${lo}")
    endforeach()
  endforeach()
  set(${out_var} "${table}" PARENT_SCOPE)
endfunction()

if(EXAMPLE STREQUAL "hello_map")
  run_ok(out hello.txt)
  expect_equal("output" "${out}" "Hello, memory map!\nWorld, memory map!\n")
  file(READ "${WORKDIR}/hello.txt" content)
  expect_equal("hello.txt" "${content}" "World, memory map!\nMapped files are just memory.\n")

elseif(EXAMPLE STREQUAL "count_word")
  # About 4 MB of text made of one paragraph, repeated. "the" also occurs
  # inside other words, at line starts and ends, and next to itself.
  set(para "The theme of the thesis: the other theatre, then the mother's bathe.\n")
  string(APPEND para "Breathe, lathe, tithe; the the the\nthe\nthey said THE end, not the end?\n")
  string(APPEND para "Nothing there but the weather, the heather and the feathers of the others.\n")
  string(APPEND para "Whatever the clothes, thee and thou; soothe the teether (the_one, the-two).\n")
  set(repeats 12000)
  string(REPEAT "${para}" ${repeats} text)
  file(WRITE "${WORKDIR}/big.txt" "${text}")

  # Substring count, as re.finditer("the") gives: by CMake's regex.
  string(REGEX MATCHALL "the" hits "${para}")
  list(LENGTH hits per_para)
  math(EXPR want "${per_para} * ${repeats}")
  # Whole words: split at non-word bytes and count the pieces equal to "the".
  string(REGEX REPLACE "[^A-Za-z0-9_]+" ";" words "${para}")
  set(words_icase "${words}")
  list(FILTER words INCLUDE REGEX "^the$")
  list(LENGTH words per_para_words)
  list(FILTER words_icase INCLUDE REGEX "^[Tt][Hh][Ee]$")
  list(LENGTH words_icase per_para_icase)
  math(EXPR want_words "${per_para_words} * ${repeats}")
  if(per_para LESS 20 OR per_para_words LESS 10 OR NOT per_para_icase GREATER per_para_words)
    message(FATAL_ERROR "count_word: test text is not what it should be")
  endif()

  run_ok(out big.txt the)
  if(lang STREQUAL "c")
    expect_equal("output" "${out}" "mmk_count: ${want}\n")
    run_ok(out -w big.txt the)
    expect_equal("output of -w" "${out}" "mmk_count: ${want_words}\n")
    run_ok(out -w -i big.txt the)
    math(EXPR want_icase "${per_para_icase} * ${repeats}")
    expect_equal("output of -w -i" "${out}" "mmk_count: ${want_icase}\n")
  else()
    expect_equal("output" "${out}" "re.finditer: ${want}\nmm.count: ${want}\n")
  endif()

elseif(EXAMPLE STREQUAL "shared_counter")
  run_ok(out 3 5000)
  if(NOT out MATCHES "counter = 15000 \\(expected 15000\\)\n")
    message(FATAL_ERROR "shared_counter (${lang}): wrong total:\n${out}")
  endif()
  if(lang STREQUAL "c")
    # One child runs until it is killed (SIGKILL) at an arbitrary moment after
    # its first 1000 increments, holding the lock or not; the others repair
    # and finish. The counter must be 3 x 2000 plus exactly what the killed
    # child committed. Several runs, so that kills land at different points.
    foreach(attempt RANGE 1 5)
      run_ok(out 4 2000 --kill-one)
      if(NOT out MATCHES "had committed ([0-9]+) increments\n")
        message(FATAL_ERROR "shared_counter (c) --kill-one: no victim count:\n${out}")
      endif()
      set(victim ${CMAKE_MATCH_1})
      math(EXPR want "3 * 2000 + ${victim}")
      if(victim LESS 1000 OR NOT out MATCHES "counter = ${want} \\(expected ${want}\\)\n")
        message(FATAL_ERROR "shared_counter (c) --kill-one: wrong total:\n${out}")
      endif()
    endforeach()
  endif()

elseif(EXAMPLE STREQUAL "image_invert")
  set(w 61)
  set(h 47)
  run_ok(out --create image.pgm ${w} ${h})
  file(READ "${WORKDIR}/image.pgm" original HEX)
  run_ok(out image.pgm)
  math(EXPR n "${w} * ${h}")
  expect_equal("output" "${out}"
    "image.pgm: ${w}x${h}, maxval 255: inverted ${n} pixels in place\nverified: the file holds the inverted image\n")

  # The header is untouched and pixel (x, y) is now 255 - ((x + 2y) mod 256).
  set(header "P5\n# mmkit example gradient\n${w} ${h}\n255\n")
  string(LENGTH "${header}" header_len)
  math(EXPR header_hex_len "2 * ${header_len}")
  byte_hex_table(hex)
  set(want "")
  math(EXPR last_y "${h} - 1")
  math(EXPR last_x "${w} - 1")
  foreach(y RANGE ${last_y})
    foreach(x RANGE ${last_x})
      math(EXPR v "255 - ((${x} + 2 * ${y}) % 256)")
      list(GET hex ${v} b)
      string(APPEND want "${b}")
    endforeach()
  endforeach()
  file(READ "${WORKDIR}/image.pgm" got HEX)
  string(SUBSTRING "${got}" 0 ${header_hex_len} got_header)
  string(SUBSTRING "${original}" 0 ${header_hex_len} want_header)
  string(SUBSTRING "${got}" ${header_hex_len} -1 got_pixels)
  expect_equal("header" "${got_header}" "${want_header}")
  expect_equal("pixels (hex)" "${got_pixels}" "${want}")

  # Inverting twice gives back the original file, byte for byte.
  run_ok(out image.pgm)
  file(READ "${WORKDIR}/image.pgm" twice HEX)
  expect_equal("file after two inversions (hex)" "${twice}" "${original}")

elseif(EXAMPLE STREQUAL "record_store")
  # 200 appends and 300 in-place updates (seed 7): every version counts once,
  # so the versions of the published records add up to 500.
  run_ok(out write store.db 200 300 7)
  expect_equal("output" "${out}"
    "published 200 records, capacity 256, 200 appends, 300 updates\n")
  file(SIZE "${WORKDIR}/store.db" size)
  expect_equal("size of store.db (64 + 256 records of 128 bytes)" "${size}" "32832")
  file(READ "${WORKDIR}/store.db" header LIMIT 24 HEX)
  # "MMKREC01", slot size 64, 2 slots, published count 200 (little-endian)
  expect_equal("header (hex)" "${header}"
    "4d4d4b52454330314000000002000000c800000000000000")
  run_ok(out verify store.db)
  expect_equal("verify" "${out}" "200 published records, 500 versions, 0 bad\n")
  # The writer SIGKILLed at random moments while a reader follows the file.
  run_ok(out torture crash.db 25)
  if(NOT out MATCHES "torture: 25 rounds, writer killed 25 times, every published record valid, reader agreed")
    message(FATAL_ERROR "record_store (${lang}) torture:\n${out}")
  endif()
  run_ok(out verify crash.db)
  if(NOT out MATCHES "^[1-9][0-9]* published records, [0-9]+ versions, 0 bad\n$")
    message(FATAL_ERROR "record_store (${lang}) verify after torture:\n${out}")
  endif()

else()
  message(FATAL_ERROR "run_example.cmake: unknown EXAMPLE '${EXAMPLE}'")
endif()

message(STATUS "${EXAMPLE} (${lang}): ok")
