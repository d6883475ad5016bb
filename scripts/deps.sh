#!/bin/sh
# Make sure the Debian packages a target needs are installed.
# As root, missing packages are installed with apt-get; otherwise they are
# named in one message and the build stops. Optional packages (the build's
# compression libraries, everything of test, demo and bench) never stop
# anything: without them a feature is left out (CMake detects what is there).
# Usage: deps.sh build|test|demo|bench
set -e
# The libraries of mmk_decoder / `mmk grep -z` (cmake/MmkCodecs.cmake): each
# one is optional; a missing one makes its format answer MMK_ENOTSUP.
codecs="zlib1g-dev libisal-dev libzstd-dev liblzma-dev libbz2-dev"
optional=""
case "$1" in
  build) pkgs="cmake make gcc pkg-config libpcre2-dev"; optional="$codecs" ;;
  # clang + its runtime: the clang sanitizer tests and libFuzzer targets
  # (tests/clang.cmake); without them those tests are skipped. gzip, zstd,
  # xz-utils, bzip2: test_decode compares with them (a missing one is skipped).
  # groff-base, zsh, fish: docs_consistency renders the man page and checks the
  # completions with each shell (a missing one is skipped).
  # gcc-mingw-w64-x86-64, wine64: the Windows cross build and its tests under
  # wine (tests/win.cmake); PCRE2 for it is built from Debian's source package
  # (the deb-src line below). python3-distributed: mmkit.dask's tests on a
  # LocalCluster (python/tests/test_dask.py; skipped without it).
  test)  pkgs="bible-kjv bible-kjv-text clang libclang-rt-14-dev python3-dev python3-numpy python3-mypy python3-distributed python3-pip python3-setuptools python3-wheel gzip zstd xz-utils bzip2 groff-base zsh fish $codecs gcc-mingw-w64-x86-64 wine64" ;;
  demo)  pkgs="bible-kjv bible-kjv-text $codecs" ;;
  bench) pkgs="bible-kjv bible-kjv-text ripgrep ugrep hyperfine gnuplot-nox gzip zstd $codecs" ;;
  *) echo "usage: deps.sh build|test|demo|bench" >&2; exit 2 ;;
esac

missing() {
  m=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || m="$m $p"
  done
  echo "$m"
}

# install [required|optional] PACKAGES...: 0, or 1 when required ones are missing
install() {
  kind=$1; shift
  need=$(missing "$@")
  [ -z "$need" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "mmkit: installing missing Debian packages:$need" >&2
    export DEBIAN_FRONTEND=noninteractive
    # One 'apt-get update' per machine is enough; do it when lists are missing or old.
    if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
      apt-get update -qq >&2 || true
    fi
    if ! apt-get install -y -qq $need >&2; then
      apt-get update -qq >&2 || true
      if ! apt-get install -y -qq $need >&2; then
        [ "$kind" = required ] && { echo "mmkit: could not install:$need" >&2; return 1; }
        echo "mmkit: could not install:$need (continuing without them)" >&2
      fi
    fi
  else
    if [ "$kind" = required ]; then
      echo "mmkit: missing Debian packages:$need — run: sudo apt-get install$need" >&2
      return 1
    fi
    echo "mmkit: optional Debian packages missing:$need (sudo apt-get install$need); continuing" >&2
  fi
  return 0
}

# The 32-bit tree (tests/m32.cmake): gcc-multilib and Debian's i386 PCRE2,
# plus qemu-user where the kernel runs no 32-bit program. Installed as root
# only (it adds the i386 architecture to dpkg); elsewhere the m32 tests skip.
# libpcre2-dev:i386 must have the exact version of the amd64 package; where
# apt cannot give it (a mirror whose i386 index lags behind), the i386 .debs
# of the version apt has are unpacked into a sysroot of their own, which
# cmake/m32.cmake uses: nothing of the amd64 system changes.
m32() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 0
  [ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ] || return 0
  export DEBIAN_FRONTEND=noninteractive
  if ! dpkg --print-foreign-architectures | grep -qx i386; then
    dpkg --add-architecture i386 && apt-get update -qq >&2 || true
  fi
  install optional gcc-multilib
  probe=$(mktemp -d)
  printf 'int main(void) { return 0; }\n' >"$probe/p.c"
  if gcc -m32 "$probe/p.c" -o "$probe/p" 2>/dev/null && ! "$probe/p" 2>/dev/null; then
    apt-get install -y -qq --no-install-recommends qemu-user >&2 ||
      echo "mmkit: could not install qemu-user (continuing without it)" >&2
  fi
  [ -z "$(missing libpcre2-dev:i386)" ] && { rm -rf "$probe"; return 0; }
  sysroot=/usr/local/lib/mmkit/i386-sysroot
  if [ ! -f "$sysroot/usr/lib/i386-linux-gnu/pkgconfig/libpcre2-8.pc" ] &&
     ! apt-get install -y -qq libpcre2-dev:i386 >&2; then
    echo "mmkit: libpcre2-dev:i386 not installable here: unpacking the i386 .debs into $sysroot" >&2
    (cd "$probe" && apt-get download libpcre2-8-0:i386 libpcre2-dev:i386 libpcre2-16-0:i386 \
       libpcre2-32-0:i386 libpcre2-posix3:i386 >&2 2>/dev/null) &&
      mkdir -p "$sysroot" && for d in "$probe"/*.deb; do dpkg-deb -x "$d" "$sysroot"; done ||
      echo "mmkit: no i386 PCRE2: the m32 tests will be skipped" >&2
  fi
  rm -rf "$probe"
}

if [ "$1" = build ]; then
  install required $pkgs || exit 1
  install optional $optional
else
  install optional $pkgs
  [ "$1" = test ] && m32
fi

# The Windows build's PCRE2 comes from Debian's source package (there is no
# mingw PCRE2 package): tests/win/win-tree.sh runs `apt-get source pcre2`,
# which needs a deb-src line. Added once, as root, for Debian bookworm.
if [ "$1" = test ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 &&
  grep -q bookworm /etc/os-release 2>/dev/null; then
  src=/etc/apt/sources.list.d/mmkit-deb-src.sources
  if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' >"$src"
    apt-get update -qq >&2 || echo "mmkit: apt-get update failed: the Windows tests will be skipped" >&2
  fi
fi
