#!/bin/sh
# Install the build into a scratch prefix, then build an outside program against
# it twice — with pkg-config and with CMake's find_package — and run both.
# Usage: check.sh BUILD_DIR WORK_DIR SOURCE_DIR
set -eu
build=$1; work=$2; src=$3
rm -rf "$work"; mkdir -p "$work"
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(ls -d "$prefix"/lib*/pkgconfig | head -1); libdir=${libdir%/pkgconfig}
test -f "$prefix/include/mmkit.h"
test -f "$libdir/libmmkit.a"
test -f "$libdir/cmake/mmkit/mmkitConfig.cmake"
# the manual page and the shell completions of mmk
test -f "$prefix/share/man/man1/mmk.1"
test -f "$prefix/share/bash-completion/completions/mmk"
test -f "$prefix/share/zsh/site-functions/_mmk"
test -f "$prefix/share/fish/vendor_completions.d/mmk.fish"
PKG_CONFIG_PATH="$libdir/pkgconfig"; export PKG_CONFIG_PATH
cc -Wall -Werror "$src/tests/install/consumer.c" $(pkg-config --cflags --libs mmkit) -o "$work/pc_consumer"
LD_LIBRARY_PATH="$libdir" "$work/pc_consumer" "$work/a.txt"
cc -Wall -Werror "$src/tests/install/consumer.c" $(pkg-config --cflags mmkit) "$libdir/libmmkit.a" \
   $(pkg-config --libs-only-l --static mmkit | sed 's/-lmmkit//') -o "$work/static_consumer"
"$work/static_consumer" "$work/b.txt"
cmake -S "$src/tests/install" -B "$work/cm" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cm" >/dev/null
LD_LIBRARY_PATH="$libdir" "$work/cm/consumer" "$work/c.txt"
"$work/cm/consumer_static" "$work/d.txt"
echo "install check: 4 consumers built and ran"
