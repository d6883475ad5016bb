"""The type stubs against the module they describe (no type checker needed:
python/tests/typing/check_typing.py runs mypy where it is installed):

* the stub (python/mmkit.pyi) and the module list the same public names,
  module-level and on mmkit.mmap (platform constants may be absent);
* the Literal modes of mmkit.open in the stub are exactly the modes open()
  accepts at run time;
* the mmkit.open example of docs/python.md runs as written."""

import ast
import os
import re
import subprocess
import sys
import unittest

import mmkit
from mmkit_testutil import TempDirTestCase

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
STUB = os.path.join(SRC, "python", "mmkit.pyi")
DOC = os.path.join(SRC, "docs", "python.md")
PLATFORM_CONSTANT = re.compile(r"^(MAP|MADV|PROT|MS)_[A-Z0-9_]+$")


def stub_tree():
    with open(STUB, encoding="utf-8") as f:
        return ast.parse(f.read())


def public(names):
    return {n for n in names if not n.startswith("_")}


def defined_names(body):
    """Names a stub body defines (walking if/else branches)."""
    out = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.add(node.target.id)
        elif isinstance(node, ast.Assign):
            out.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.If):
            out |= defined_names(node.body) | defined_names(node.orelse)
    return out


class StubMatchesModuleTest(unittest.TestCase):
    def test_module_names(self):
        tree = stub_tree()
        stub = public(defined_names(tree.body))
        # Submodules (mmkit.dask, once imported) have stubs of their own.
        runtime = public(n for n in dir(mmkit)
                         if not isinstance(getattr(mmkit, n), type(mmkit)))
        self.assertEqual(runtime - stub, set(), "public names the stub does not declare")
        missing = {n for n in stub - runtime if not PLATFORM_CONSTANT.match(n)}
        self.assertEqual(missing, set(), "names the stub declares that the module lacks")

    def test_mmap_methods(self):
        tree = stub_tree()
        cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "mmap")
        stub = public(defined_names(cls.body))
        runtime = public(dir(mmkit.mmap))
        self.assertEqual(runtime ^ stub, set())
        for name in ("flush", "set_name", "readinto"):
            self.assertIn(name, stub)

    def test_315_constants_declared(self):
        names = defined_names(stub_tree().body)
        for n in ("MS_SYNC", "MS_ASYNC", "MS_INVALIDATE"):
            self.assertIn(n, names)


class OpenModesTest(TempDirTestCase):
    def stub_modes(self):
        with open(STUB, encoding="utf-8") as f:
            text = f.read()
        m = re.search(r"^_OpenMode: TypeAlias = Literal\[(.*)\]$", text, re.M)
        self.assertIsNotNone(m, "the stub's _OpenMode alias")
        self.assertIn("mode: _OpenMode", text)
        return set(ast.literal_eval("[" + m.group(1) + "]"))

    def test_literal_is_exactly_the_accepted_modes(self):
        p = self.make_file(b"0123456789")
        candidates = ["r", "r+", "w", "c", "rb", "r+b", "w+", "wb", "w+b", "a", "a+", "x", "",
                      "R", "rw", "c+", "r ", "cb"]
        accepted = set()
        for mode in candidates:
            try:
                mmkit.open(p, mode).close()
            except ValueError as e:
                self.assertEqual(str(e), "mode must be 'r', 'r+', 'w' or 'c', not '%s'" % mode)
            else:
                accepted.add(mode)
        self.assertEqual(accepted, self.stub_modes())
        self.assertEqual(accepted, {"r", "r+", "w", "c"})
        # A refused mode changed nothing on disk.
        with open(p, "rb") as f:
            self.assertEqual(f.read(), b"0123456789")
        self.assertFalse(os.path.exists(self.path("never.bin")))
        with self.assertRaises(ValueError):
            mmkit.open(self.path("never.bin"), "w+")
        self.assertFalse(os.path.exists(self.path("never.bin")))

    def test_doc_example_runs_as_written(self):
        with open(DOC, encoding="utf-8") as f:
            m = re.search(r"<!-- example: open -->\n```python\n(.*?)```\n\nprints\n\n"
                          r"```text\n(.*?)```\n", f.read(), re.S)
        self.assertIsNotNone(m, "the mmkit.open example in docs/python.md")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [os.path.dirname(os.path.abspath(mmkit.__file__))]
            + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        proc = subprocess.run([sys.executable, "-c", m.group(1)], cwd=self.dir, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout, m.group(2))


if __name__ == "__main__":
    unittest.main()
