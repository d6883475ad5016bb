# Toolchain file of the 32-bit x86 build (gcc -m32 on an x86-64 Debian with
# gcc-multilib): cmake -DCMAKE_TOOLCHAIN_FILE=cmake/m32.cmake. tests/m32.cmake
# builds such a tree in build/m32 and runs the C and CLI tests there.
#
# Libraries come from Debian's i386 multiarch directories: PCRE2 from
# libpcre2-dev:i386 (/usr/lib/i386-linux-gnu). Where apt could not install
# that package (its version must equal the amd64 one, and a mirror whose i386
# index lags behind cannot give it), scripts/deps.sh unpacks the i386 .debs
# into a sysroot of their own instead, MMK_M32_SYSROOT (default
# /usr/local/lib/mmkit/i386-sysroot), which is used when it holds PCRE2.
# The decoders' libraries (cmake/MmkCodecs.cmake) are found only if their
# i386 packages are installed; each one missing leaves its format out.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR i686)
set(CMAKE_LIBRARY_ARCHITECTURE i386-linux-gnu)
set(CMAKE_C_FLAGS_INIT "-m32")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-m32")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-m32")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-m32")

if(NOT DEFINED MMK_M32_SYSROOT)
  if(DEFINED ENV{MMK_M32_SYSROOT})
    set(MMK_M32_SYSROOT "$ENV{MMK_M32_SYSROOT}")
  else()
    set(MMK_M32_SYSROOT /usr/local/lib/mmkit/i386-sysroot)
  endif()
endif()
# Try-compiles run this file again: hand them the choice.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES MMK_M32_SYSROOT)

# pkg-config sees only i386 packages (never the amd64 .pc files).
set(ENV{PKG_CONFIG_PATH} "")
if(EXISTS /usr/lib/i386-linux-gnu/pkgconfig/libpcre2-8.pc
   OR NOT EXISTS ${MMK_M32_SYSROOT}/usr/lib/i386-linux-gnu/pkgconfig/libpcre2-8.pc)
  set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/i386-linux-gnu/pkgconfig:/usr/share/pkgconfig")
  unset(ENV{PKG_CONFIG_SYSROOT_DIR})
  set(CMAKE_FIND_ROOT_PATH /)
else()
  set(ENV{PKG_CONFIG_LIBDIR} "${MMK_M32_SYSROOT}/usr/lib/i386-linux-gnu/pkgconfig")
  set(ENV{PKG_CONFIG_SYSROOT_DIR} "${MMK_M32_SYSROOT}")
  set(CMAKE_FIND_ROOT_PATH / ${MMK_M32_SYSROOT})
endif()
# Libraries and headers from the i386 directories (and the sysroot); programs
# (pkg-config, python3) are the host's.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
