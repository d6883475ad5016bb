#!/bin/sh
# Configure and build the Windows tree of a Linux build (mingw-w64 x86-64
# cross build, build/win), and start wine once in it (the first start takes
# a while), so the win_ tests then only run programs. Exit 77 (skipped), with
# one line saying why, when mingw-w64, wine or the PCRE2 source is missing.
# Usage: win-tree.sh SOURCE_DIR BUILD_DIR [TARGET...]
#
# PCRE2: Debian has no mingw PCRE2 package, so its source package is
# cross-compiled here as a static library (once; kept in BUILD_DIR/deps).
# The source comes from `apt-get source pcre2` (scripts/deps.sh test adds the
# deb-src line), or from MMK_PCRE2_SRC, a directory holding an unpacked
# PCRE2 source tree.
src=$1
dir=$2
shift 2
cc=${MMK_MINGW_PREFIX:-x86_64-w64-mingw32}-gcc
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "skipped: $cc not found (apt-get install gcc-mingw-w64-x86-64)"
  exit 77
fi
if ! command -v wine >/dev/null 2>&1; then
  echo "skipped: wine not found (apt-get install wine64)"
  exit 77
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
deps="$dir/deps"
jobs=${MMK_WIN_JOBS:-$(nproc 2>/dev/null || echo 2)}

if [ ! -f "$deps/lib/libpcre2-8.a" ]; then
  pcre=${MMK_PCRE2_SRC:-}
  if [ -z "$pcre" ]; then
    mkdir -p "$dir/pcre2-src"
    pcre=$(ls -d "$dir"/pcre2-src/pcre2-*/ 2>/dev/null | head -1)
    if [ -z "$pcre" ]; then
      (cd "$dir/pcre2-src" && apt-get source --download-only pcre2 >fetch.log 2>&1 &&
        tar xzf pcre2_*.orig.tar.gz) || true
      pcre=$(ls -d "$dir"/pcre2-src/pcre2-*/ 2>/dev/null | head -1)
    fi
  fi
  if [ -z "$pcre" ] || [ ! -f "$pcre/CMakeLists.txt" ]; then
    echo "skipped: no PCRE2 source for the Windows build (apt-get source pcre2 needs a deb-src line: scripts/deps.sh test adds it)"
    exit 77
  fi
  cmake -S "$pcre" -B "$dir/pcre2-build" -DCMAKE_TOOLCHAIN_FILE="$src/cmake/mingw-w64.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DPCRE2_BUILD_PCRE2GREP=OFF \
    -DPCRE2_BUILD_TESTS=OFF -DPCRE2_SUPPORT_JIT=ON -DCMAKE_INSTALL_PREFIX="$deps" \
    >"$dir/pcre2-configure.log" 2>&1 &&
    cmake --build "$dir/pcre2-build" -j "$jobs" --target install >"$dir/pcre2-build.log" 2>&1 ||
    { tail -20 "$dir/pcre2-configure.log" "$dir/pcre2-build.log"; exit 1; }
fi

# Configured every time (a few seconds): options given here take effect.
# PCRE2_STATIC: its header otherwise declares the functions dllimport;
# _POSIX_THREAD_SAFE_FUNCTIONS: mingw's gmtime_r/localtime_r for the tests;
# __USE_MINGW_ANSI_STDIO: C99 printf formats (%zu) in the tests;
# -static: the programs need no mingw DLLs (libwinpthread, libgcc) in wine;
# RelWithDebInfo without -g (MMK_DEBUG_INFO=OFF; assert() stays on): no
# debugger reads this tree, and the tests' build took 53 s with -g, 44 s
# without (2 cores).
PKG_CONFIG_LIBDIR="$deps/lib/pkgconfig" cmake -S "$src" -B "$dir" \
  -DCMAKE_TOOLCHAIN_FILE="$src/cmake/mingw-w64.cmake" -DMMK_WIN_DEPS="$deps" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMMK_DEBUG_INFO=OFF -DCMAKE_C_FLAGS="-DPCRE2_STATIC -D_POSIX_THREAD_SAFE_FUNCTIONS -D__USE_MINGW_ANSI_STDIO=1" \
  -DCMAKE_EXE_LINKER_FLAGS=-static -DMMK_PYTHON=OFF -DMMK_SANITIZERS=OFF -DMMK_CLANG_TESTS=OFF \
  -DMMK_WIN_TESTS=OFF >"$dir/configure.log" 2>&1 ||
  { cat "$dir/configure.log"; exit 1; }
if [ $# -gt 0 ]; then
  cmake --build "$dir" -j "$jobs" --target "$@" || exit 1
else
  cmake --build "$dir" -j "$jobs" || exit 1
fi
# The wine prefix lives in the tree; creating it is the slow first start.
# A persistent wine server is started first, with no standard streams, and
# the win_stop test stops it after the last win_ test. Why: the first wine
# program of a server starts wine's system processes (services.exe,
# winedevice.exe), and they inherit that program's stdout and stderr. Were
# that program a test's mmk.exe, whose output the test reads through a
# pipe, the pipe would stay open for as long as the server lives, and the
# test would wait for its end of file. Started here, the system processes
# hold /dev/null and the log file instead.
# (The server needs the prefix's directory; wineboot -i fills it.)
export WINEPREFIX="$dir/wine" WINEDEBUG=-all
mkdir -p "$WINEPREFIX"
wineserver -p </dev/null >/dev/null 2>&1
wineboot -i </dev/null >"$dir/wineboot.log" 2>&1 ||
  { echo "skipped: wine cannot start here (see $dir/wineboot.log)"; exit 77; }
echo "built in $dir: $*"
