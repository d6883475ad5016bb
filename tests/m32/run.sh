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
if [ -n "$emu" ] && [ -n "$MMK_M32_NOT_UNDER_QEMU" ]; then
  echo "skipped: $(basename "$prog") under $emu: $MMK_M32_NOT_UNDER_QEMU (it runs where the kernel runs 32-bit programs)"
  exit 77
fi
if [ -n "$emu" ]; then
  # Tests word what an emulator cannot show (tests/check.h's emulated()).
  MMK_TEST_EMULATOR=qemu-i386
  export MMK_TEST_EMULATOR
fi
exec $emu "$prog" "$@"
