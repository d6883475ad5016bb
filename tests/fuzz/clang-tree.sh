#!/bin/sh
# Configure and build the clang tree of a gcc build: the C tests under clang's
# ASan+UBSan and TSan, and the libFuzzer targets. Exit 77 (skipped), with one
# line saying why, when clang or its sanitizer runtime is missing.
# Usage: clang-tree.sh SOURCE_DIR BUILD_DIR [TARGET...]
src=$1
dir=$2
shift 2
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
if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S "$src" -B "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMMK_PYTHON=OFF -DMMK_SANITIZERS=ON -DMMK_CLANG_TESTS=OFF >"$dir/configure.log" 2>&1 ||
    { cat "$dir/configure.log"; exit 1; }
fi
jobs=${MMK_CLANG_JOBS:-$(nproc 2>/dev/null || echo 2)}
if [ $# -gt 0 ]; then
  cmake --build "$dir" -j "$jobs" --target "$@"
else
  cmake --build "$dir" -j "$jobs"
fi
