# Python tests (included by tests/CMakeLists.txt):
#   python_unit            the unit tests (python/tests) with the default python3
#                          against build/python
#   python_unit_3.X        the same tests for every other CPython 3.9-3.13 found
#   python_dask            mmkit.dask on a LocalCluster (Debian's python3 and
#                          python3-distributed; build/python-system)
#   python_conformance_3.X CPython's own test_mmap, as installed with each
#                          CPython 3.9-3.13 found, against a build of the module
#                          for that version (build/python-3.X)
# CPythons are looked for in pyenv's versions directories, then as python3.X
# on PATH. Each extra build is a plain MODULE library compiled with that
# interpreter's include directory and named with its EXT_SUFFIX.
if(NOT TARGET mmkit_python)
  return()
endif()

# A pyenv shim is a shell script; tests run the interpreter behind it.
execute_process(COMMAND ${MMK_PYTHON_EXECUTABLE} -c "import sys; print(sys.executable)"
  OUTPUT_VARIABLE mmk_default_python OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE mmk_rc ERROR_QUIET)
if(NOT mmk_rc EQUAL 0 OR NOT mmk_default_python)
  set(mmk_default_python ${MMK_PYTHON_EXECUTABLE})
endif()
get_filename_component(mmk_default_real ${mmk_default_python} REALPATH)

set(MMK_PY_TEST_TMP ${CMAKE_CURRENT_BINARY_DIR}/tmp)

# run_unit.py is unittest discovery with each test named as it starts and a
# watchdog that dumps the stacks of a hung run. mmkit.dask's LocalCluster
# tests run apart, as python_dask (MMK_TEST_DASK=0 here), to keep these runs
# well inside the watchdog. numpy's BLAS keeps to one
# thread: the tests fork, and a forked child of a process with idle BLAS
# threads has nothing to gain from them.
# The Pythons other than the default one run in quick mode (QUICK in
# python/tests/mmkit_testutil.py): every test, fewer rounds of the heaviest.
function(mmk_add_python_unit_test name python moddir)
  set(quick 0)
  if(ARGC GREATER 3)
    set(quick ${ARGV3})
  endif()
  set(only "")
  if(ARGC GREATER 4)
    set(only ${ARGV4})
  endif()
  add_test(NAME ${name}
    COMMAND ${python} ${PROJECT_SOURCE_DIR}/python/tests/run_unit.py)
  set_tests_properties(${name} PROPERTIES
    ENVIRONMENT "PYTHONPATH=${moddir};MMK_TEST_TMP=${MMK_PY_TEST_TMP};PYTHONDONTWRITEBYTECODE=1;OPENBLAS_NUM_THREADS=1;OMP_NUM_THREADS=1;MMK_TEST_DASK=0;MMK_TEST_QUICK=${quick};MMK_TEST_ONLY=${only}"
    LABELS "python" TIMEOUT 300)
endfunction()

mmk_add_python_unit_test(python_unit ${mmk_default_python} ${CMAKE_BINARY_DIR}/python)

# The searcher's tests alone (mmkit.search, count_by, time_range), for
# `ctest -R python_search` while working on them; python_unit runs them too.
add_test(NAME python_search
  COMMAND ${mmk_default_python} -m unittest test_search
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/python/tests)
set_tests_properties(python_search PROPERTIES
  ENVIRONMENT "PYTHONPATH=${CMAKE_BINARY_DIR}/python;MMK_TEST_TMP=${MMK_PY_TEST_TMP};PYTHONDONTWRITEBYTECODE=1"
  LABELS "python" TIMEOUT 300)

# The POSIX-only clang tree (tests/clang.cmake) builds the module for the
# default python3 alone.
option(MMK_PYTHON_ALL_VERSIONS "Build and test the module for every CPython 3.9-3.13 found" ON)
if(NOT MMK_PYTHON_ALL_VERSIONS)
  return()
endif()

set(mmk_pyenv_roots)
if(DEFINED ENV{PYENV_ROOT})
  list(APPEND mmk_pyenv_roots $ENV{PYENV_ROOT})
endif()
if(DEFINED ENV{HOME})
  list(APPEND mmk_pyenv_roots $ENV{HOME}/.pyenv)
endif()
list(APPEND mmk_pyenv_roots /root/.pyenv)
list(REMOVE_DUPLICATES mmk_pyenv_roots)

foreach(minor 9 10 11 12 13)
  set(ver 3.${minor})
  set(exe "")
  foreach(root ${mmk_pyenv_roots})
    file(GLOB cands ${root}/versions/${ver}.*/bin/python${ver})
    if(cands)
      list(SORT cands COMPARE NATURAL ORDER DESCENDING)
      list(GET cands 0 exe)
      break()
    endif()
  endforeach()
  if(NOT exe)
    find_program(MMK_PYTHON_${minor}_EXE python${ver})
    if(MMK_PYTHON_${minor}_EXE)
      set(exe ${MMK_PYTHON_${minor}_EXE})
    endif()
  endif()
  if(NOT exe)
    message(STATUS "mmkit: no CPython ${ver} found: no conformance test for it")
    continue()
  endif()

  execute_process(COMMAND ${exe} -c
"import sys, sysconfig, importlib.util
print(sysconfig.get_paths()['include'])
print(sysconfig.get_config_var('EXT_SUFFIX'))
try:
    spec = importlib.util.find_spec('test.test_mmap')
except ImportError:
    spec = None
print('yes' if spec is not None and spec.origin else 'no')
print('%d.%d' % sys.version_info[:2])"
    OUTPUT_VARIABLE info OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 0)
    message(STATUS "mmkit: ${exe} does not run: no conformance test for Python ${ver}")
    continue()
  endif()
  string(REPLACE "\n" ";" info "${info}")
  list(GET info 0 inc)
  list(GET info 1 suffix)
  list(GET info 2 has_tests)
  list(GET info 3 real_ver)
  if(NOT real_ver STREQUAL ver)
    message(STATUS "mmkit: ${exe} is Python ${real_ver}, not ${ver}: skipped")
    continue()
  endif()
  if(NOT EXISTS ${inc}/Python.h)
    message(STATUS "mmkit: Python ${ver} (${exe}) has no development headers: no build for it")
    continue()
  endif()

  set(target mmkit_python_3${minor})
  set(outdir ${CMAKE_BINARY_DIR}/python-${ver})
  add_library(${target} MODULE ${MMK_PYTHON_SOURCES})
  target_include_directories(${target} PRIVATE ${inc})
  set_target_properties(${target} PROPERTIES SUFFIX ${suffix})
  mmk_python_module_setup(${target} ${outdir})

  # The default python3's unit tests already run as python_unit.
  get_filename_component(exe_real ${exe} REALPATH)
  if(NOT exe_real STREQUAL mmk_default_real)
    mmk_add_python_unit_test(python_unit_${ver} ${exe} ${outdir} 1)
  endif()
  if(has_tests STREQUAL "yes")
    add_test(NAME python_conformance_${ver} COMMAND ${exe} ${PROJECT_SOURCE_DIR}/python/conformance.py)
    set_tests_properties(python_conformance_${ver} PROPERTIES
      ENVIRONMENT "PYTHONPATH=${outdir};PYTHONDONTWRITEBYTECODE=1"
      LABELS "python;conformance" TIMEOUT 300 SKIP_RETURN_CODE 77)
  else()
    message(STATUS "mmkit: SKIPPING conformance for Python ${ver} (${exe}): it has no 'test' "
      "package (test_mmap.py is not installed)")
  endif()
endforeach()

# Debian's own python3 (/usr/bin/python3) is where Debian's python3-numpy and
# python3-mypy install. When it exists and has its development headers, the
# module is also built for it (build/python-system) and, unless it is the
# default python3, its numpy tests run as python_unit_system: the numpy
# recipes of docs/python.md (python/tests/test_numpy.py) and the other tests
# with numpy in their names, which skip with a message under interpreters
# without numpy. (Debian's python3 is the same minor version as the default
# one, whose python_unit runs the whole suite; running it all twice cost
# make test 30-43 s.) python_typing_system
# installs the package with pip into a temporary directory and runs mypy over
# python/tests/typing (exit status 77, reported as skipped, without mypy).
set(mmk_system_python /usr/bin/python3)
if(EXISTS ${mmk_system_python})
  execute_process(COMMAND ${mmk_system_python} -c
"import sysconfig
print(sysconfig.get_paths()['include'])
print(sysconfig.get_config_var('EXT_SUFFIX'))"
    OUTPUT_VARIABLE info OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
  if(rc EQUAL 0)
    string(REPLACE "\n" ";" info "${info}")
    list(GET info 0 inc)
    list(GET info 1 suffix)
  endif()
  if(NOT rc EQUAL 0 OR NOT EXISTS ${inc}/Python.h)
    message(STATUS "mmkit: ${mmk_system_python} has no development headers (Debian: "
      "python3-dev): no numpy or typing tests for it")
  else()
    set(outdir ${CMAKE_BINARY_DIR}/python-system)
    add_library(mmkit_python_system MODULE ${MMK_PYTHON_SOURCES})
    target_include_directories(mmkit_python_system PRIVATE ${inc})
    set_target_properties(mmkit_python_system PROPERTIES SUFFIX ${suffix})
    mmk_python_module_setup(mmkit_python_system ${outdir})
    get_filename_component(sys_real ${mmk_system_python} REALPATH)
    if(NOT sys_real STREQUAL mmk_default_real)
      mmk_add_python_unit_test(python_unit_system ${mmk_system_python} ${outdir} 1 numpy)
    endif()
    # mmkit.dask on a LocalCluster of two worker processes, with Debian's
    # python3-distributed (python/tests/test_dask.py; its Dask tests skip
    # with the reason where distributed does not import).
    add_test(NAME python_dask
      COMMAND ${mmk_system_python} -m unittest -v test_dask
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/python/tests)
    set_tests_properties(python_dask PROPERTIES
      ENVIRONMENT "PYTHONPATH=${outdir};MMK_TEST_TMP=${MMK_PY_TEST_TMP};PYTHONDONTWRITEBYTECODE=1;MMK_TEST_DASK=1"
      LABELS "python" TIMEOUT 300)
    add_test(NAME python_typing_system
      COMMAND ${mmk_system_python} ${PROJECT_SOURCE_DIR}/python/tests/typing/check_typing.py
        --source ${PROJECT_SOURCE_DIR} --work ${MMK_PY_TEST_TMP}/typing)
    set_tests_properties(python_typing_system PROPERTIES
      ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1"
      LABELS "python" TIMEOUT 600 SKIP_RETURN_CODE 77)
  endif()
endif()
