"""What Python 3.15 adds to mmap, in every supported version:
flush(offset, size, *, flags=...) with MS_SYNC / MS_ASYNC / MS_INVALIDATE,
and set_name(name) for anonymous memory (PR_SET_VMA_ANON_NAME).

Whether the kernel can name memory at all is probed independently of mmkit,
with prctl(2) through ctypes on a map made by the standard module; tests of
the visible name skip with that reason where it cannot, and the documented
error is checked instead."""

import ctypes
import ctypes.util
import errno
import mmap as std_mmap
import os
import sys
import unittest

import mmkit
from mmkit_testutil import TempDirTestCase

PAGE = mmkit.PAGESIZE
LINUX = sys.platform.startswith("linux")
PR_SET_VMA = 0x53564D41
PR_SET_VMA_ANON_NAME = 0


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def map_address(m):
    """The address of a map's first byte (through a short-lived buffer export)."""
    c = ctypes.c_char.from_buffer(m)
    try:
        return ctypes.addressof(c)
    finally:
        del c


def kernel_names_anon_memory():
    """(True, '') if prctl(PR_SET_VMA_ANON_NAME) names private anonymous memory
    here, else (False, why): the reference for what set_name() can do."""
    if not LINUX:
        return False, "not Linux"
    libc = _libc()
    m = std_mmap.mmap(-1, PAGE, flags=std_mmap.MAP_PRIVATE)
    try:
        addr = map_address(m)
        libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                               ctypes.c_char_p]
        rc = libc.prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, PAGE, b"mmkit-probe")
        if rc != 0:
            return False, "prctl(PR_SET_VMA_ANON_NAME) fails here: %s (kernel %s)" % (
                os.strerror(ctypes.get_errno()), os.uname().release)
        return True, ""
    finally:
        m.close()


NAMING, NAMING_WHY = kernel_names_anon_memory()


def maps_line(addr):
    """The /proc/self/maps line of the mapping that contains addr."""
    with open("/proc/self/maps") as f:
        for line in f:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if lo <= addr < hi:
                return line.rstrip("\n")
    return None


@unittest.skipUnless(hasattr(mmkit, "MS_SYNC"), "the platform has no msync flags")
class FlushFlagsTest(TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.file = self.make_file(b"\0" * (4 * PAGE))
        self.f = open(self.file, "r+b")
        self.addCleanup(self.f.close)
        self.m = mmkit.mmap(self.f.fileno(), 0)
        self.addCleanup(self.m.close)

    def file_bytes(self):
        with open(self.file, "rb") as f:
            return f.read()

    def test_constants(self):
        # Linux's msync(2) values; where the standard module has them (3.15+),
        # the same values.
        if LINUX:
            self.assertEqual((mmkit.MS_ASYNC, mmkit.MS_INVALIDATE, mmkit.MS_SYNC), (1, 2, 4))
        for name in ("MS_SYNC", "MS_ASYNC", "MS_INVALIDATE"):
            if hasattr(std_mmap, name):
                self.assertEqual(getattr(mmkit, name), getattr(std_mmap, name))

    def test_accepted_flags_write_back(self):
        combos = [0, mmkit.MS_SYNC, mmkit.MS_ASYNC, mmkit.MS_INVALIDATE,
                  mmkit.MS_SYNC | mmkit.MS_INVALIDATE, mmkit.MS_ASYNC | mmkit.MS_INVALIDATE]
        for i, flags in enumerate(combos):
            with self.subTest(flags=flags):
                self.m[i] = 0x41 + i
                self.assertIsNone(self.m.flush(flags=flags))
                self.assertIsNone(self.m.flush(0, PAGE, flags=flags))
                self.assertIsNone(self.m.flush(PAGE, flags=flags))
                self.assertEqual(self.file_bytes()[i], 0x41 + i)

    def test_rejected_flags(self):
        self.m[0] = 1
        for flags in (mmkit.MS_SYNC | mmkit.MS_ASYNC,
                      mmkit.MS_SYNC | mmkit.MS_ASYNC | mmkit.MS_INVALIDATE,
                      1 << 20, -1):
            with self.subTest(flags=flags):
                with self.assertRaises(OSError) as cm:
                    self.m.flush(flags=flags)
                self.assertEqual(cm.exception.errno, errno.EINVAL)
                self.assertIn("MS_SYNC or MS_ASYNC", str(cm.exception))
        # The map is unchanged and still usable.
        self.assertEqual(self.m[0], 1)
        self.m.flush()

    def test_flags_is_keyword_only_int(self):
        with self.assertRaises(TypeError):
            self.m.flush(0, PAGE, mmkit.MS_SYNC)
        with self.assertRaises(TypeError):
            self.m.flush(flags="sync")
        with self.assertRaises(TypeError):
            self.m.flush(offset=0)
        with self.assertRaises(OverflowError):
            self.m.flush(flags=1 << 40)

    def test_invalidate_reaches_msync(self):
        # msync(MS_INVALIDATE) over locked pages is EBUSY (msync(2)): the flag
        # must have reached the system call, and without it the flush works.
        if not LINUX:
            self.skipTest("EBUSY for MS_INVALIDATE on locked pages is Linux's behaviour")
        libc = _libc()
        libc.mlock.argtypes = libc.munlock.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        addr = map_address(self.m)
        if libc.mlock(addr, PAGE) != 0:
            self.skipTest("mlock() refused: %s" % os.strerror(ctypes.get_errno()))
        try:
            self.m[0] = 7
            self.m.flush(0, PAGE, flags=mmkit.MS_SYNC)
            with self.assertRaises(OSError) as cm:
                self.m.flush(0, PAGE, flags=mmkit.MS_SYNC | mmkit.MS_INVALIDATE)
            self.assertEqual(cm.exception.errno, errno.EBUSY)
        finally:
            libc.munlock(addr, PAGE)
        self.m.flush(0, PAGE, flags=mmkit.MS_SYNC | mmkit.MS_INVALIDATE)

    def test_without_flags_as_standard_module(self):
        # The standard checks, unchanged by the new keyword.
        self.assertIsNone(self.m.flush())
        with self.assertRaisesRegex(ValueError, "flush values out of range"):
            self.m.flush(0, 5 * PAGE)
        with self.assertRaisesRegex(ValueError, "flush values out of range"):
            self.m.flush(5 * PAGE)
        with self.assertRaises(OSError) as cm:
            self.m.flush(1, PAGE)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        # 3.15: flush(offset) alone flushes from offset to the end.
        self.m[3 * PAGE] = 9
        self.assertIsNone(self.m.flush(3 * PAGE))
        self.assertEqual(self.file_bytes()[3 * PAGE], 9)

    def test_read_and_copy_maps(self):
        for access in (mmkit.ACCESS_READ, mmkit.ACCESS_COPY):
            with self.subTest(access=access):
                with mmkit.mmap(self.f.fileno(), 0, access=access) as m:
                    self.assertIsNone(m.flush(flags=mmkit.MS_ASYNC))
                    # Bad flags are refused on every map (the standard
                    # module ignores them on these maps).
                    with self.assertRaises(OSError):
                        m.flush(flags=mmkit.MS_SYNC | mmkit.MS_ASYNC)

    def test_closed(self):
        self.m.close()
        with self.assertRaisesRegex(ValueError, "mmap closed or invalid"):
            self.m.flush(flags=mmkit.MS_SYNC)

    def test_open_map_any_offset(self):
        with mmkit.open(self.file, "r+", offset=10, length=PAGE) as m:
            m[0] = 0x5A
            m.flush(flags=mmkit.MS_ASYNC | mmkit.MS_INVALIDATE)
            m.flush(5, 10, flags=mmkit.MS_SYNC)
        self.assertEqual(self.file_bytes()[10], 0x5A)


class SetNameTest(TempDirTestCase):
    def anon(self, private=True, size=2 * PAGE):
        flags = mmkit.MAP_PRIVATE if private else mmkit.MAP_SHARED
        m = mmkit.mmap(-1, size, flags=flags)
        self.addCleanup(m.close)
        return m

    def test_argument_errors_as_315(self):
        m = self.anon()
        with self.assertRaisesRegex(TypeError, "must be str, not bytes"):
            m.set_name(b"x")
        with self.assertRaisesRegex(ValueError, "embedded null character"):
            m.set_name("a\0b")
        with self.assertRaisesRegex(ValueError, "name is too long"):
            m.set_name("x" * 67)
        with self.assertRaisesRegex(ValueError, "name is too long"):
            m.set_name("\u00e9" * 34)  # 68 bytes in UTF-8
        with self.assertRaises(TypeError):
            m.set_name()
        with self.assertRaises(TypeError):
            m.set_name("a", "b")

    def test_file_backed_maps_are_refused(self):
        p = self.make_file(b"x" * PAGE)
        with open(p, "r+b") as f:
            for kw in ({}, {"access": mmkit.ACCESS_READ}, {"access": mmkit.ACCESS_COPY},
                       {"trackfd": False}):
                with self.subTest(kw=kw), mmkit.mmap(f.fileno(), 0, **kw) as m:
                    with self.assertRaisesRegex(ValueError,
                                                "Cannot set annotation on non-anonymous"):
                        m.set_name("file")
        with mmkit.open(p) as m:
            with self.assertRaises(ValueError):
                m.set_name("file")
        name = "/mmkit-setname-%d" % os.getpid()
        shm = mmkit.shm_open(name, PAGE, create=True, exclusive=True)
        try:
            with self.assertRaises(ValueError):
                shm.set_name("shm")
        finally:
            shm.close()
            mmkit.shm_unlink(name)

    def test_closed(self):
        m = mmkit.mmap(-1, PAGE)
        m.close()
        with self.assertRaisesRegex(ValueError, "mmap closed or invalid"):
            m.set_name("x")

    def test_bad_characters(self):
        m = self.anon()
        for bad in ("a[b", "a]", "$x", "back\\slash", "`", "tab\there", "\u00e9"):
            with self.subTest(name=bad):
                with self.assertRaises(OSError) as cm:
                    m.set_name(bad)
                self.assertEqual(cm.exception.errno, errno.EINVAL)
                self.assertIn("printable ASCII", str(cm.exception))

    def test_private_name_visible(self):
        m = self.anon(private=True)
        name = "mmkit-test-%d" % os.getpid()
        if not NAMING:
            with self.assertRaises(OSError) as cm:
                m.set_name(name)
            self.assertEqual(cm.exception.errno, errno.EINVAL)
            self.assertIn("CONFIG_ANON_VMA_NAME", str(cm.exception))
            self.skipTest("name not visible: " + NAMING_WHY + "; the documented OSError(EINVAL) "
                          "was checked instead")
        self.assertIsNone(m.set_name(name))
        addr = map_address(m)
        for off in (0, PAGE):
            self.assertIn("[anon:%s]" % name, maps_line(addr + off))
        # The longest name 3.15 allows; a second call replaces the name.
        longest = "y" * 66
        self.assertIsNone(m.set_name(longest))
        self.assertIn("[anon:%s]" % longest, maps_line(addr))
        self.assertNotIn(name, maps_line(addr))
        # The map's content is untouched.
        m[0:3] = b"abc"
        self.assertEqual(m[0:3], b"abc")

    def test_shared_name_visible_or_documented_error(self):
        m = self.anon(private=False)
        name = "mmkit-shared-%d" % os.getpid()
        line = maps_line(map_address(m)) if LINUX else ""
        if not NAMING or "memfd:" in line:
            # A kernel without naming, or shared memory backed by a memfd
            # (the kernel names only anonymous memory): the documented error.
            with self.assertRaises(OSError) as cm:
                m.set_name(name)
            self.assertEqual(cm.exception.errno, errno.EINVAL)
            if not NAMING:
                self.skipTest("name not visible: " + NAMING_WHY)
            return
        try:
            m.set_name(name)
        except OSError as e:  # kernels before 6.2 name private memory only
            self.assertEqual(e.errno, errno.EINVAL)
            self.skipTest("this kernel does not name shared anonymous memory")
        self.assertIn("[anon_shmem:%s]" % name, maps_line(map_address(m)))


if __name__ == "__main__":
    unittest.main()
