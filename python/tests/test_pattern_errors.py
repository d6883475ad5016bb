"""Errors about patterns: an invalid pattern raises mmkit.PatternError (a
ValueError) naming PCRE2's reason and the offset in the pattern, with re.error's
attributes; a regex that is too expensive for the backtracking engine on the
input raises mmkit.RegexLimitError (a RuntimeError) saying at which byte of the
map the failing search started.

The RegexLimitError tests need the library change that returns MMK_ELIMIT and
fills mmk_scan_options.error_offset (before it, the library reports such a
search as MMK_EPATTERN)."""

import re
import unittest

import mmkit

# Catastrophic backtracking: (a+)+$ on a run of a's that ends in b.
EXPLOSIVE = rb"(a+)+$"


class PatternErrorTest(unittest.TestCase):
    def setUp(self):
        self.m = mmkit.mmap(-1, 4096)
        self.addCleanup(self.m.close)

    def assertPatternError(self, call, pattern, pos, reason):
        with self.assertRaises(mmkit.PatternError) as cm:
            call()
        e = cm.exception
        self.assertIsInstance(e, ValueError)  # what callers caught before
        self.assertEqual(e.pattern, pattern)
        self.assertEqual(e.pos, pos)
        self.assertEqual(e.offset, pos)
        self.assertIn(reason, e.msg)
        self.assertEqual(str(e), "invalid pattern at offset %d: %s" % (pos, e.msg))
        return e

    def test_count_and_finditer(self):
        for call in (lambda p: self.m.count(p, regex=True),
                     lambda p: self.m.finditer(p, regex=True)):
            self.assertPatternError(lambda: call(rb"a(b"), rb"a(b", 3, "missing closing parenthesis")
            self.assertPatternError(lambda: call(rb"ab)"), rb"ab)", 2, "unmatched closing parenthesis")
            self.assertPatternError(lambda: call(rb"x{2,1}"), rb"x{2,1}", 5, "out of order")
            self.assertPatternError(lambda: call(rb"[z-a]"), rb"[z-a]", 3, "out of order")

    def test_offset_is_where_re_reports_it(self):
        # Python's re agrees on where these patterns go wrong.
        for pattern in (rb"a(b", rb"ab)", rb"abc[", rb"(?P<n>x)(?P=m)"):
            with self.assertRaises(re.error) as ref:
                re.compile(pattern)
            with self.assertRaises(mmkit.PatternError) as cm:
                self.m.count(pattern, regex=True)
            self.assertIsNotNone(cm.exception.pos, pattern)
            self.assertLessEqual(abs(cm.exception.pos - ref.exception.pos), 2, pattern)

    def test_literals_are_never_invalid(self):
        self.assertEqual(self.m.count(rb"a(b"), 0)
        self.assertEqual(list(self.m.finditer(rb"[z-a]")), [])

    def test_module_attributes(self):
        self.assertTrue(issubclass(mmkit.PatternError, ValueError))
        self.assertTrue(issubclass(mmkit.RegexLimitError, RuntimeError))
        self.assertFalse(issubclass(mmkit.RegexLimitError, ValueError))
        self.assertEqual(mmkit.PatternError.__module__, "mmkit")
        self.assertEqual(mmkit.RegexLimitError.__module__, "mmkit")


class RegexLimitErrorTest(unittest.TestCase):
    """Needs the library's MMK_ELIMIT (see the module docstring)."""

    def explosive_map(self, before):
        data = b"x" * before + b"\n" + b"a" * 30000 + b"b"
        m = mmkit.mmap(-1, len(data))
        m[:] = data
        self.addCleanup(m.close)
        return m

    def assertLimit(self, call, at):
        with self.assertRaises(mmkit.RegexLimitError) as cm:
            call()
        e = cm.exception
        self.assertIsInstance(e, RuntimeError)
        self.assertNotIsInstance(e, ValueError)
        self.assertIn("too complex for the backtracking engine", str(e))
        self.assertIsInstance(e.offset, int)
        # The search that gave up started in the explosive run, at or before
        # its first a, and not before the range searched.
        self.assertLessEqual(e.offset, at)
        self.assertIn("at byte %d" % e.offset, str(e))
        return e

    def test_count(self):
        m = self.explosive_map(1000)
        e = self.assertLimit(lambda: m.count(EXPLOSIVE, regex=True, threads=1), 1001)
        self.assertGreaterEqual(e.offset, 0)

    def test_count_of_a_range_reports_a_map_offset(self):
        m = self.explosive_map(5000)
        e = self.assertLimit(lambda: m.count(EXPLOSIVE, 4000, regex=True, threads=1), 5001)
        self.assertGreaterEqual(e.offset, 4000)

    def test_finditer(self):
        m = self.explosive_map(300)
        e = self.assertLimit(lambda: list(m.finditer(EXPLOSIVE, 100, regex=True)), 301)
        self.assertGreaterEqual(e.offset, 100)

    def test_map_stays_usable(self):
        m = self.explosive_map(10)
        with self.assertRaises(mmkit.RegexLimitError):
            m.count(EXPLOSIVE, regex=True)
        self.assertEqual(m.count(b"a"), 30000)
        self.assertEqual(m.count(rb"a+b", regex=True), 1)


if __name__ == "__main__":
    unittest.main()
