# The installed package (header, static and shared library, pkg-config file,
# CMake config) works for an outside program.
add_test(NAME install_consumers
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/install/check.sh ${CMAKE_BINARY_DIR}
          ${CMAKE_CURRENT_BINARY_DIR}/install-check ${PROJECT_SOURCE_DIR})
set_tests_properties(install_consumers PROPERTIES LABELS "install" TIMEOUT 300 RUN_SERIAL TRUE)
