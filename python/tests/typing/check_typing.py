"""Check that mmkit's type stubs work after `pip install`, the way a user's
type checker sees them.

  1. make a virtual environment (Debian's python3, --system-site-packages so
     that its setuptools builds offline) and `pip install` the source tree
     into it, as a user would;
  2. check the installed layout: the package mmkit, whose __init__ is the
     extension module, with its stubs (__init__.pyi, dask.pyi), py.typed
     (PEP 561: type checkers read the package's stubs) and dask.py;
  3. run mypy (--strict) with --python-executable pointing at that
     environment over usage_ok.py (every API used correctly: no error, for
     the environment's Python and for 3.9), usage_bad.py (each line marked
     `# E: text` gets exactly one error containing text, no other line any),
     and usage_buffer.py (an mmkit.mmap passed to the standard library as a
     bytes-like object: only where mypy's typeshed has the buffer protocol).

Exit status 0: passed; 77: skipped (no mypy for this Python; the reason is
printed); anything else: failed. Run by CTest as python_typing_system.

    python3 python/tests/typing/check_typing.py --source . --work /tmp/typing
"""

import argparse
import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, **kw):
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, **kw)


def fail(msg, output=""):
    if output:
        print(output)
    print("FAIL: " + msg)
    sys.exit(1)


def mypy_errors(python, work, path, version=None):
    cmd = [sys.executable, "-m", "mypy", "--strict", "--show-error-codes", "--no-error-summary",
           "--no-color-output", "--python-executable", python,
           "--cache-dir", os.path.join(work, "mypy-cache")]
    if version:
        cmd += ["--python-version", version]
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    proc = run(cmd + [path], cwd=work, env=env)
    errors = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"(.*?):(\d+): error: (.*)", line)
        if m and os.path.basename(m.group(1)) == os.path.basename(path):
            errors.setdefault(int(m.group(2)), []).append(m.group(3))
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not errors):
        fail("mypy did not run on %s (status %d)" % (path, proc.returncode), proc.stdout)
    return errors, proc.stdout


def typeshed_has_buffer_protocol():
    import mypy
    p = os.path.join(os.path.dirname(mypy.__file__), "typeshed", "stdlib", "_typeshed",
                     "__init__.pyi")
    with open(p, encoding="utf-8") as f:
        return re.search(r"^ReadableBuffer: TypeAlias = Buffer\b", f.read(), re.M) is not None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True, help="the mmkit source tree (setup.py)")
    ap.add_argument("--work", required=True, help="scratch directory (emptied first)")
    args = ap.parse_args()
    try:
        import mypy.version
    except ImportError:
        print("SKIPPED: mypy is not installed for %s (Debian: python3-mypy)" % sys.executable)
        return 77
    missing = []
    for tool, package in (("pip", "python3-pip"), ("setuptools", "python3-setuptools"),
                          ("wheel", "python3-wheel")):
        # Looked up, not imported: setuptools must not be imported after mypy
        # has imported distutils.
        if importlib.util.find_spec(tool) is None:
            missing.append(package)
    if missing:
        print("SKIPPED: cannot pip install offline with %s: missing %s"
              % (sys.executable, " ".join(missing)))
        return 77
    print("mypy %s under %s" % (mypy.version.__version__, sys.executable))

    work = os.path.abspath(args.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    venv = os.path.join(work, "venv")
    proc = run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", venv])
    if proc.returncode != 0:
        fail("could not make a virtual environment", proc.stdout)
    python = os.path.join(venv, "bin", "python")

    # pip from the system site-packages, installing into the environment;
    # setuptools writes its objects and egg-info under work, not the source.
    env = dict(os.environ, MMK_SETUPTOOLS_BUILD=os.path.join(work, "setuptools"),
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONPATH", None)
    proc = run([python, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
                os.path.abspath(args.source)], env=env)
    if proc.returncode != 0:
        fail("pip install failed", proc.stdout)

    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
               env=env).stdout.strip()
    pkg = os.path.join(site, "mmkit")
    modules = (glob.glob(os.path.join(pkg, "__init__.*.so")) +
               glob.glob(os.path.join(pkg, "__init__.*.pyd")))
    stubs = {"__init__.pyi": "mmkit.pyi", "dask.pyi": os.path.join("mmkit", "dask.pyi"),
             "dask.py": os.path.join("mmkit", "dask.py"), "py.typed": "py.typed"}
    if len(modules) != 1 or not all(os.path.isfile(os.path.join(pkg, n)) for n in stubs):
        fail("installed layout: expected the package mmkit with one __init__ extension module, "
             "%s in %s, found %s" % (", ".join(sorted(stubs)), pkg,
                                     sorted(os.listdir(pkg if os.path.isdir(pkg) else site))))
    for name, source in stubs.items():
        with open(os.path.join(pkg, name), encoding="utf-8") as f, \
                open(os.path.join(args.source, "python", source), encoding="utf-8") as g:
            if f.read() != g.read():
                fail("the installed %s is not python/%s" % (name, source))
    proc = run([python, "-c", "import mmkit; print(mmkit.__file__)"], cwd=work, env=env)
    if proc.returncode != 0 or not proc.stdout.strip().startswith(site):
        fail("the installed module does not import from %s" % site, proc.stdout)

    for version in (None, "3.9"):
        errors, out = mypy_errors(python, work, os.path.join(HERE, "usage_ok.py"), version)
        if errors:
            fail("usage_ok.py (python %s) must type-check cleanly" % (version or "default"), out)
        print("ok: usage_ok.py (python %s): no errors" % (version or "default"))

    bad = os.path.join(HERE, "usage_bad.py")
    expected = {}
    with open(bad, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = re.search(r"\S  # E: (.*)$", line)
            if m:
                expected[n] = m.group(1).strip()
    errors, out = mypy_errors(python, work, bad)
    problems = []
    for n, text in sorted(expected.items()):
        got = errors.get(n, [])
        if len(got) != 1 or text not in got[0]:
            problems.append("line %d: expected one error containing %r, got %r" % (n, text, got))
    for n in sorted(set(errors) - set(expected)):
        problems.append("line %d: unexpected error(s) %r" % (n, errors[n]))
    if problems:
        fail("usage_bad.py:\n  " + "\n  ".join(problems), out)
    print("ok: usage_bad.py: the %d expected errors and no other" % len(expected))

    buf = os.path.join(HERE, "usage_buffer.py")
    if typeshed_has_buffer_protocol():
        errors, out = mypy_errors(python, work, buf)
        if errors:
            fail("usage_buffer.py must type-check cleanly", out)
        print("ok: usage_buffer.py: no errors")
    else:
        print("not checked: usage_buffer.py (this mypy's typeshed types bytes-like arguments "
              "as a union of builtin types, without the buffer protocol)")
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
