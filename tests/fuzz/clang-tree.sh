#!/bin/sh
# Configure and build the clang tree of a gcc build: the C tests under clang's
# ASan+UBSan and TSan, and the libFuzzer targets. Exit 77 (skipped), with one
# line saying why, when clang or its sanitizer runtime is missing.
# Usage: clang-tree.sh SOURCE_DIR BUILD_DIR [-DVAR=VALUE...] [TARGET...]
src=$1
dir=$2
shift 2
defs=""
while [ $# -gt 0 ]; do
  case "$1" in -D*) defs="$defs $1"; shift ;; *) break ;; esac
done
cc=${MMK_CLANG:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "skipped: $cc not found (apt-get install clang libclang-rt-14-dev)"
  exit 77
fi
mkdir -p "$dir"
probe="$dir/probe"
printf 'int main(void) { return 0; }\n' >"$probe.c"
if ! "$cc" -fsanitize=address,undefined "$probe.c" -o "$probe" >/dev/null 2>&1 || ! "$probe"; then
  echo "skipped: $cc cannot build with -fsanitize=address,undefined (apt-get install libclang-rt-14-dev)"
  exit 77
fi
# libFuzzer comes with the same runtime package, but check: without it the
# fuzz targets are left out (and their tests skip), the rest still runs.
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe-fuzz.c"
if ! "$cc" -fsanitize=fuzzer "$probe-fuzz.c" -o "$probe-fuzz" >/dev/null 2>&1; then
  echo "note: $cc has no libFuzzer runtime: fuzz targets not built"
  keep=""
  for t in "$@"; do
    case "$t" in fuzz_*) ;; *) keep="$keep $t" ;; esac
  done
  set -- $keep
fi
case " $defs " in
*" -DMMK_POSIX_ONLY=ON "*) echo "clang tree $dir: POSIX-only configuration (-DMMK_POSIX_ONLY=ON, as on macOS and FreeBSD)" ;;
esac
# Configured every time (a few seconds): options given here take effect.
cmake -S "$src" -B "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMMK_PYTHON=OFF -DMMK_SANITIZERS=ON -DMMK_CLANG_TESTS=OFF $defs >"$dir/configure.log" 2>&1 ||
  { cat "$dir/configure.log"; exit 1; }
jobs=${MMK_CLANG_JOBS:-$(nproc 2>/dev/null || echo 2)}
if [ $# -gt 0 ]; then
  cmake --build "$dir" -j "$jobs" --target "$@"
else
  cmake --build "$dir" -j "$jobs"
fi
