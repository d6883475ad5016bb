#!/bin/sh
# Configure and build the 32-bit tree of a build (gcc -m32, cmake/m32.cmake):
# the plain C tests and mmk, no sanitizers, no Python. Exit 77 (skipped), with
# one line saying why, where gcc cannot build 32-bit programs, the i386 PCRE2
# is missing, or 32-bit programs cannot run (natively or under qemu-i386).
# Writes DIR/emulator: empty when 32-bit programs run natively, else the
# emulator's command (tests/m32/run.sh reads it).
# Usage: tree.sh SOURCE_DIR BUILD_DIR [TARGET...]
src=$1
dir=$2
shift 2
mkdir -p "$dir"
probe="$dir/probe"
printf '#include <stdio.h>\nint main(void) { return sizeof(void *) == 4 ? 0 : 1; }\n' >"$probe.c"
if ! gcc -m32 "$probe.c" -o "$probe" >/dev/null 2>&1; then
  echo "skipped: gcc -m32 cannot build (apt-get install gcc-multilib)"
  exit 77
fi
sysroot=${MMK_M32_SYSROOT:-/usr/local/lib/mmkit/i386-sysroot}
if [ ! -f /usr/lib/i386-linux-gnu/pkgconfig/libpcre2-8.pc ] &&
   [ ! -f "$sysroot/usr/lib/i386-linux-gnu/pkgconfig/libpcre2-8.pc" ]; then
  echo "skipped: no i386 PCRE2 (dpkg --add-architecture i386; apt-get install libpcre2-dev:i386; or scripts/deps.sh test as root)"
  exit 77
fi
# Some x86-64 kernels run no 32-bit program (no IA32 emulation, or a
# hypervisor without 32-bit user mode): then qemu-i386 runs them.
if "$probe" >/dev/null 2>&1; then
  : >"$dir/emulator"
elif command -v qemu-i386 >/dev/null 2>&1 && qemu-i386 -L / "$probe" >/dev/null 2>&1; then
  echo "note: this kernel runs no 32-bit program; the m32 tests run under qemu-i386" >&2
  echo "qemu-i386 -L /" >"$dir/emulator"
else
  echo "skipped: this kernel runs no 32-bit program and qemu-i386 is missing (apt-get install qemu-user)"
  exit 77
fi
# Configured every time (a few seconds): options given here take effect.
# RelWithDebInfo without -g (MMK_DEBUG_INFO=OFF; assert() stays on): no
# debugger reads this tree (the Windows tree's build: 53 s with -g, 44 s
# without).
cmake -S "$src" -B "$dir" -DCMAKE_TOOLCHAIN_FILE="$src/cmake/m32.cmake" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMMK_DEBUG_INFO=OFF \
  -DMMK_PYTHON=OFF -DMMK_SANITIZERS=OFF \
  -DMMK_CLANG_TESTS=OFF -DMMK_M32_TESTS=OFF >"$dir/configure.log" 2>&1 ||
  { cat "$dir/configure.log"; exit 1; }
grep "mmkit decoders:" "$dir/configure.log" | sed 's/^-- /m32 tree: /'
# mmk through the emulator, for the CLI tests (they run $MMK directly).
{
  echo '#!/bin/sh'
  echo "exec $(cat "$dir/emulator") \"$(cd "$dir" && pwd)/mmk\" \"\$@\""
} >"$dir/mmk-run"
chmod +x "$dir/mmk-run"
jobs=${MMK_M32_JOBS:-$(nproc 2>/dev/null || echo 2)}
if [ $# -gt 0 ]; then
  cmake --build "$dir" -j "$jobs" --target "$@"
else
  cmake --build "$dir" -j "$jobs"
fi
