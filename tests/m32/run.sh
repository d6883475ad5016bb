#!/bin/sh
# Run a program of the 32-bit tree (tests/m32/tree.sh), natively or under the
# emulator the tree recorded. Exit 77 (skipped) when it was not built.
# Usage: run.sh BUILD_DIR PROGRAM [ARG...]
dir=$1
prog=$2
shift 2
if [ ! -x "$prog" ] || [ ! -f "$dir/emulator" ]; then
  echo "skipped: $prog not built (see m32_build)"
  exit 77
fi
emu=$(cat "$dir/emulator")
if [ -n "$emu" ]; then
  # Tests word what an emulator cannot show (tests/check.h's emulated()).
  MMK_TEST_EMULATOR=qemu-i386
  export MMK_TEST_EMULATOR
fi
exec $emu "$prog" "$@"
