# Cross-compiling for Windows x86-64 with Debian's mingw-w64
# (gcc-mingw-w64-x86-64): cmake -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake.
# tests/win.cmake configures build/win with it; the programs run under wine.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(MMK_MINGW_PREFIX x86_64-w64-mingw32 CACHE STRING "mingw-w64 tool prefix")
set(CMAKE_C_COMPILER ${MMK_MINGW_PREFIX}-gcc)
set(CMAKE_RC_COMPILER ${MMK_MINGW_PREFIX}-windres)
# MMK_WIN_DEPS: the prefix of libraries cross-built for this tree (PCRE2,
# tests/win/build-pcre2.sh); searched like the mingw sysroot.
set(CMAKE_FIND_ROOT_PATH /usr/${MMK_MINGW_PREFIX} ${MMK_WIN_DEPS})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR wine)
