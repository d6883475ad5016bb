"""Build the mmkit extension module with setuptools.

The module is compiled from python/*.c together with the library sources
src/*.c (the static library the CMake build links, compiled in), against
include/mmkit.h, and linked with PCRE2 (found with pkg-config). The type
stubs (python/mmkit.pyi) are installed beside the module.

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
    names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(HERE, "src", "*.c")))
    platform_file = "os_win.c" if sys.platform == "win32" else "os_unix.c"
    other = "os_unix.c" if platform_file == "os_win.c" else "os_win.c"
    return [rel("src", n) for n in names if n != other]


cflags = pkg_config("--cflags") or []
libs = pkg_config("--libs")
if libs is None:
    libs = ["-lpcre2-8"]

extension = Extension(
    "mmkit",
    sources=[rel("python", "mmkitmodule.c"), rel("python", "mmkit_mmap.c"),
             rel("python", "mmkit_iter.c"), rel("python", "mmkit_shm.c"),
             rel("python", "mmkit_guard.c")] + library_sources(),
    include_dirs=["include", "src"],
    define_macros=[("_GNU_SOURCE", None), ("_FILE_OFFSET_BITS", "64")],
    extra_compile_args=["-std=gnu11", "-fvisibility=hidden", "-pthread"] + cflags,
    extra_link_args=["-pthread"] + libs,
)


class build_ext_with_stubs(build_ext):
    """build_ext that also puts mmkit.pyi next to the built module."""

    def run(self):
        super().run()
        for ext in self.extensions:
            target_dir = os.path.dirname(self.get_ext_fullpath(ext.name))
            os.makedirs(target_dir, exist_ok=True)
            shutil.copyfile(os.path.join(HERE, "python", "mmkit.pyi"),
                            os.path.join(target_dir, "mmkit.pyi"))

    def get_outputs(self):
        outputs = super().get_outputs()
        for ext in self.extensions:
            outputs.append(os.path.join(os.path.dirname(self.get_ext_fullpath(ext.name)),
                                        "mmkit.pyi"))
        return outputs


setup(
    name="mmkit",
    version="0.1.0",
    description="Memory-mapped files done properly: a drop-in superset of Python's mmap module",
    long_description=open(os.path.join(HERE, "docs", "python.md"), encoding="utf-8").read()
    if os.path.exists(os.path.join(HERE, "docs", "python.md")) else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    ext_modules=[extension],
    cmdclass={"build_ext": build_ext_with_stubs},
    classifiers=[
        "Programming Language :: C",
        "Programming Language :: Python :: 3",
        "Operating System :: POSIX :: Linux",
        "Topic :: System :: Filesystems",
    ],
    zip_safe=False,
    # Keep setuptools out of build/, which is the CMake build directory.
    options={"build": {"build_base": "build-setuptools"}},
)
