"""Build the mmkit extension module with setuptools.

The module is compiled from python/*.c together with the library sources
src/*.c (the static library the CMake build links, compiled in), against
include/mmkit.h, and linked with PCRE2 (found with pkg-config). `mmkit` is
a package whose __init__ is the extension itself (mmkit/__init__<EXT_SUFFIX>,
PyInit_mmkit), with mmkit/dask.py (python/mmkit/) beside it and the type
stubs: mmkit/__init__.pyi (python/mmkit.pyi), mmkit/dask.pyi and py.typed.

    pip install --no-build-isolation .      # offline, with the setuptools at hand
    python setup.py build_ext --inplace      # for a quick local build
"""

import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))


def rel(*parts):
    return os.path.join(*parts)


def pkg_config(*args):
    try:
        out = subprocess.check_output(["pkg-config", *args, "libpcre2-8"])
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.decode().split()


def library_sources():
    """The library's sources for this platform, as CMakeLists.txt picks them:
    one platform file (os_unix.c / os_win.c) and the mutex flavours that
    src/shm_lock.h uses here (Windows: the named mutex; Linux: the robust
    pthread mutex and the lock file; other POSIX systems: the lock file)."""
    names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(HERE, "src", "*.c")))
    if sys.platform == "win32":
        skip = {"os_unix.c", "shm_lock_file.c", "shm_lock_robust.c"}
    else:
        skip = {"os_win.c", "shm_lock_win.c"}
        if not sys.platform.startswith("linux"):
            skip.add("shm_lock_robust.c")
    return [rel("src", n) for n in names if n not in skip]


cflags = pkg_config("--cflags") or []
libs = pkg_config("--libs")
if libs is None:
    libs = ["-lpcre2-8"]


# The decoders' libraries (src/decode.c), each optional as in the CMake build
# (cmake/MmkCodecs.cmake): a library whose header and -l link in a test
# compile is used; without it, its format answers MMK_ENOTSUP.
CODECS = [("MMK_HAVE_ZLIB", "zlib.h", "z"), ("MMK_HAVE_ISAL", "isa-l/igzip_lib.h", "isal"),
          ("MMK_HAVE_ZSTD", "zstd.h", "zstd"), ("MMK_HAVE_LZMA", "lzma.h", "lzma"),
          ("MMK_HAVE_BZ2", "bzlib.h", "bz2")]


def codecs_found():
    cc = os.environ.get("CC", "cc").split()
    found = []
    for macro, header, lib in CODECS:
        try:
            ok = subprocess.run(cc + ["-x", "c", "-", "-o", os.devnull, "-l" + lib],
                                input=("#include <%s>\nint main(void) { return 0; }\n"
                                       % header).encode(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                check=False).returncode == 0
        except OSError:
            ok = False
        if ok:
            found.append((macro, lib))
    return found


codecs = codecs_found()

extension = Extension(
    "mmkit.__init__",
    sources=[rel("python", "mmkitmodule.c"), rel("python", "mmkit_mmap.c"),
             rel("python", "mmkit_iter.c"), rel("python", "mmkit_search.c"),
             rel("python", "mmkit_shm.c"),
             rel("python", "mmkit_guard.c"), rel("python", "mmkit_os.c"),
             rel("python", "mmkit_part.c")] + library_sources(),
    include_dirs=["include", "src"],
    define_macros=[("_GNU_SOURCE", None), ("_FILE_OFFSET_BITS", "64"), ("_TIME_BITS", "64")]
    + [(macro, None) for macro, _ in codecs],
    extra_compile_args=["-std=gnu11", "-fvisibility=hidden", "-pthread"] + cflags,
    extra_link_args=["-pthread"] + libs + ["-l" + lib for _, lib in codecs],
)


# The stubs of the extension in the installed package: python/mmkit.pyi as
# mmkit/__init__.pyi, and py.typed, so that PEP 561 type checkers read the
# package's own stubs (dask.pyi comes with the package's Python files).
# `import mmkit` is still the extension module itself, so `import mmkit as
# mmap` stays the whole drop-in and CPython's test_mmap loads the same file.
STUB_FILES = [("python", "mmkit.pyi", "__init__.pyi"), ("python", "py.typed", "py.typed")]


# The decoders behind mmkit.search(decompress=True) (src/decode.c), as
# cmake/MmkCodecs.cmake finds them: each library that compiles and links here
# is used, a missing one leaves its format unsupported (OSError EOPNOTSUPP).
# (macro, header, library, a function of it)
CODECS = [
    ("MMK_HAVE_ZLIB", "zlib.h", "z", "inflateInit2_"),
    ("MMK_HAVE_ISAL", "isa-l/igzip_lib.h", "isal", "isal_inflate"),
    ("MMK_HAVE_ZSTD", "zstd.h", "zstd", "ZSTD_decompressStream"),
    ("MMK_HAVE_LZMA", "lzma.h", "lzma", "lzma_stream_decoder"),
    ("MMK_HAVE_BZ2", "bzlib.h", "bz2", "BZ2_bzDecompress"),
]


class build_ext_with_stubs(build_ext):
    """build_ext that also puts the type stubs next to the built module and
    compiles in the decoders whose libraries this machine has."""

    def have_library(self, header, lib, func):
        """True when a program including header and calling func links with -l<lib>."""
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "probe.c")
            with open(src, "w") as f:
                f.write("#include <%s>\n"
                        "int main(void) {\n"
                        "    void (*volatile fn)(void) = (void (*)(void))%s;\n"
                        "    return fn == 0;\n"
                        "}\n" % (header, func))
            try:
                objs = self.compiler.compile([src], output_dir=tmp)
                self.compiler.link_executable(objs, os.path.join(tmp, "probe"), libraries=[lib])
            except Exception:  # noqa: BLE001 - any failure means "not usable here"
                return False
        return True

    def build_extensions(self):
        found = [c for c in CODECS if self.have_library(*c[1:])]
        for ext in self.extensions:
            for macro, _, lib, _ in found:
                ext.define_macros.append((macro, None))
                ext.libraries.append(lib)
        super().build_extensions()

    def get_export_symbols(self, ext):
        # The module is mmkit (its __init__), so its init function is
        # PyInit_mmkit, not PyInit___init__ (only Windows links by this list).
        return ["PyInit_mmkit"]

    def stub_pairs(self):
        if self.inplace:
            return []  # a local build: python/mmkit.pyi is the stub
        target_dir = os.path.dirname(self.get_ext_fullpath(self.extensions[0].name))
        return [(os.path.join(HERE, d, src), os.path.join(target_dir, dst))
                for d, src, dst in STUB_FILES]

    def stub_targets(self):
        return [dst for _, dst in self.stub_pairs()]

    def run(self):
        super().run()
        for src, target in self.stub_pairs():
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(src, target)

    def get_outputs(self):
        return super().get_outputs() + self.stub_targets()


SETUP_OPTIONS = {"build": {"build_base": "build-setuptools"}}
if os.environ.get("MMK_SETUPTOOLS_BUILD"):
    # Everything setuptools writes (objects, egg-info) goes there.
    _base = os.path.abspath(os.environ["MMK_SETUPTOOLS_BUILD"])
    os.makedirs(_base, exist_ok=True)
    SETUP_OPTIONS = {"build": {"build_base": _base}, "egg_info": {"egg_base": _base}}

setup(
    name="mmkit",
    version="0.1.0",
    description="Memory-mapped files done properly: a drop-in superset of Python's mmap module",
    long_description=open(os.path.join(HERE, "docs", "python.md"), encoding="utf-8").read()
    if os.path.exists(os.path.join(HERE, "docs", "python.md")) else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    ext_modules=[extension],
    packages=["mmkit"],
    package_dir={"mmkit": "python/mmkit"},
    package_data={"mmkit": ["dask.pyi"]},
    extras_require={"dask": ["distributed"]},
    cmdclass={"build_ext": build_ext_with_stubs},
    classifiers=[
        "Programming Language :: C",
        "Programming Language :: Python :: 3",
        "Operating System :: POSIX :: Linux",
        "Topic :: System :: Filesystems",
    ],
    zip_safe=False,
    # Keep setuptools out of build/, which is the CMake build directory
    # (MMK_SETUPTOOLS_BUILD=DIR: in DIR, as the typing test does).
    options=SETUP_OPTIONS,
)
