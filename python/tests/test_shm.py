"""Shared memory between processes: mmkit.shm_open / shm_unlink / SharedMemory
and the robust process-shared mmkit.Lock.

Processes here are real: forked children, multiprocessing "spawn" workers
that open the memory by name, and unrelated interpreters started with
subprocess. Holders of the lock are killed with SIGKILL, and the next
acquirer must see that (OwnerDiedError or the repair function), repair the
shared state and go on; a lock released unrepaired must then refuse
everybody (LockNotRecoverableError). Every name is unique to this process
and unlinked afterwards.
"""

import errno
import gc
import itertools
import multiprocessing
import os
import signal
import stat
import struct
import subprocess
import sys
import threading
import time
import traceback
import unittest
import weakref

import mmkit
from mmkit_testutil import POSIX_ONLY, TempDirTestCase

DEV_SHM = "/dev/shm"
HAVE_DEV_SHM = sys.platform.startswith("linux") and os.path.isdir(DEV_SHM)
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))

_names = itertools.count()
_keep = []


def unique_name(tag):
    return "/mmkit-test-%d-%s-%d" % (os.getpid(), tag, next(_names))


def unlink_quietly(name):
    try:
        mmkit.shm_unlink(name)
    except FileNotFoundError:
        pass


def shm_path(name):
    return os.path.join(DEV_SHM, name.lstrip("/"))


def fork_child(fn, *args):
    """Run fn(*args) in a forked child; it exits 0 if fn returns, 1 if it
    raises (traceback on stderr). Returns the pid."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            fn(*args)
            status = 0
        except BaseException:  # noqa: BLE001 - report anything, never return to unittest
            traceback.print_exc()
        finally:
            os._exit(status)
    return pid


def wait_status(pid):
    """(exit code or None, terminating signal or None) of child pid."""
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    return os.WEXITSTATUS(status), None


# ---------------------------------------------------------------------------
# The shared counter: layout, update and repair (module level, so that spawn
# workers and subprocesses can use them too)
# ---------------------------------------------------------------------------

# Native "Q": each 8-byte field is written by one aligned store, so a process
# killed mid-update leaves every field either old or new, never torn.
Q = struct.Struct("Q")
LOCK_AT = 0
COUNTER = 64  # the protected counter
UNDO_COUNTER = 72  # undo journal: old counter ...
UNDO_DONE = 80  # ... and old tally of the updater
WHO = 88  # one byte: 1 + slot of the update in progress, 0: none
REPAIRS = 96  # how many times a repair ran
DONE = 128  # one tally per slot: the increments that process committed
MAX_SLOTS = 32
COUNTER_SIZE = DONE + 8 * MAX_SLOTS


def read_q(mm, at):
    return Q.unpack_from(mm, at)[0]


def add_one(mm, slot):
    """One increment by `slot`, under the lock: save the old values, mark the
    update in progress, change, unmark. A SIGKILL anywhere in here leaves
    state that repair_counter() puts back exactly."""
    c = read_q(mm, COUNTER)
    d = read_q(mm, DONE + 8 * slot)
    Q.pack_into(mm, UNDO_COUNTER, c)
    Q.pack_into(mm, UNDO_DONE, d)
    mm[WHO] = slot + 1
    Q.pack_into(mm, COUNTER, c + 1)
    Q.pack_into(mm, DONE + 8 * slot, d + 1)
    mm[WHO] = 0


def repair_counter(mm):
    """Undo the update a dead holder left half-done (if any), and count the
    repair. Runs with the lock held."""
    who = mm[WHO]
    if who:
        Q.pack_into(mm, COUNTER, read_q(mm, UNDO_COUNTER))
        Q.pack_into(mm, DONE + 8 * (who - 1), read_q(mm, UNDO_DONE))
        mm[WHO] = 0
    Q.pack_into(mm, REPAIRS, read_q(mm, REPAIRS) + 1)


def counter_lock(mm):
    return mmkit.Lock(mm, LOCK_AT, repair=lambda lock: repair_counter(mm))


def counter_worker(name, slot, rounds):
    """A worker in any kind of process: open the memory by name and add 1
    `rounds` times (forever if rounds < 0)."""
    with mmkit.shm_open(name) as mm:
        lock = counter_lock(mm)
        n = 0
        while rounds < 0 or n < rounds:
            with lock:
                add_one(mm, slot)
            n += 1
        lock.close()


def hold_mid_update(name, slot, ready_fd):
    """Take the lock, leave an update half done (the counter bumped by 1000,
    the tally not), say so on ready_fd and wait to be killed."""
    mm = mmkit.shm_open(name)
    lock = counter_lock(mm)
    lock.acquire()
    c = read_q(mm, COUNTER)
    Q.pack_into(mm, UNDO_COUNTER, c)
    Q.pack_into(mm, UNDO_DONE, read_q(mm, DONE + 8 * slot))
    mm[WHO] = slot + 1
    Q.pack_into(mm, COUNTER, c + 1000)
    os.write(ready_fd, b"x")
    while True:
        time.sleep(60)


SUBPROCESS_WORKER = """
import sys
sys.path.insert(0, sys.argv[1])
import test_shm
test_shm.counter_worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
"""


# ---------------------------------------------------------------------------
# Named shared memory
# ---------------------------------------------------------------------------


class ShmTestCase(unittest.TestCase):
    def new_name(self, tag="t"):
        name = unique_name(tag)
        self.addCleanup(unlink_quietly, name)
        return name

    def open(self, *args, **kwargs):
        sm = mmkit.shm_open(*args, **kwargs)
        self.addCleanup(sm.close)
        return sm


class ShmOpenTest(ShmTestCase):
    def test_create_open_and_unlink(self):
        n = self.new_name()
        sm = self.open(n, 8192, create=True)
        self.assertIs(type(sm), mmkit.SharedMemory)
        self.assertIsInstance(sm, mmkit.mmap)
        self.assertTrue(sm.created)
        self.assertEqual(sm.name, n)
        self.assertEqual(len(sm), 8192)
        self.assertEqual(sm[:], bytes(8192))
        self.assertEqual(sm.size(), 8192)
        sm.write(b"hello")
        sm[8191] = 7

        other = self.open(n)  # whole object, shared with sm
        self.assertFalse(other.created)
        self.assertEqual(len(other), 8192)
        self.assertEqual(other[:5], b"hello")
        other[5:6] = b"!"
        self.assertEqual(sm[:6], b"hello!")
        self.assertEqual(other[8191], 7)

        self.assertEqual(len(self.open(n, 100)), 100)  # a prefix
        self.assertEqual(self.open(n[1:]).name, n)  # the slash is optional
        self.assertEqual(self.open(os.fsencode(n))[:6], b"hello!")

        again = self.open(n, 4096, create=True)  # open-or-create finds it
        self.assertFalse(again.created)
        self.assertEqual(len(again), 4096)
        self.assertEqual(sm.size(), 8192)  # never shrunk
        if HAVE_DEV_SHM:
            self.assertEqual(os.stat(shm_path(n)).st_size, 8192)

        sm.unlink()
        with self.assertRaises(FileNotFoundError) as cm:
            mmkit.shm_open(n)
        self.assertEqual(cm.exception.errno, errno.ENOENT)
        self.assertEqual(cm.exception.filename, n)
        self.assertEqual(other[:6], b"hello!")  # maps outlive the name
        with self.assertRaises(FileNotFoundError):
            sm.unlink()
        with self.assertRaises(FileNotFoundError) as cm:
            mmkit.shm_unlink(n)
        self.assertEqual(cm.exception.filename, n)

    def test_exclusive(self):
        n = self.new_name()
        sm = self.open(n, 4096, create=True, exclusive=True)
        self.assertTrue(sm.created)
        sm[:3] = b"abc"
        with self.assertRaises(FileExistsError) as cm:
            mmkit.shm_open(n, 4096, create=True, exclusive=True)
        self.assertEqual(cm.exception.errno, errno.EEXIST)
        self.assertEqual(cm.exception.filename, n)
        with self.assertRaises(FileExistsError):
            mmkit.shm_open(n, 100000, create=True, exclusive=True)
        self.assertEqual(sm.size(), 4096)  # untouched by the failed calls
        self.assertEqual(sm[:3], b"abc")

    def test_missing(self):
        n = self.new_name()
        for kwargs in ({}, {"readonly": True}, {"any_owner": True}, {"size": 10}):
            with self.assertRaises(FileNotFoundError, msg=kwargs) as cm:
                mmkit.shm_open(n, **kwargs)
            self.assertEqual(cm.exception.filename, n)
        with self.assertRaises(FileNotFoundError):
            mmkit.shm_unlink(n)
        with self.assertRaises(FileNotFoundError):  # nothing was created
            mmkit.shm_open(n)

    def test_empty_object(self):
        n = self.new_name()
        sm = self.open(n, create=True)
        self.assertTrue(sm.created)
        self.assertEqual(len(sm), 0)
        self.assertEqual(len(self.open(n)), 0)

    def test_create_grows_but_plain_open_does_not(self):
        n = self.new_name()
        small = self.open(n, 100, create=True)
        small[:4] = b"keep"
        with self.assertRaises(ValueError) as cm:
            mmkit.shm_open(n, 5000)
        self.assertIn(n, str(cm.exception))
        with self.assertRaises(ValueError):
            mmkit.shm_open(n, 5000, create=True, readonly=True)
        self.assertEqual(small.size(), 100)  # failed calls change nothing
        big = self.open(n, 5000, create=True)
        self.assertFalse(big.created)
        self.assertEqual(len(big), 5000)
        self.assertEqual(big[:4], b"keep")
        self.assertEqual(big[100:], bytes(4900))
        self.assertEqual(small.size(), 5000)

    def test_readonly(self):
        n = self.new_name()
        rw = self.open(n, 4096, create=True)
        rw[:2] = b"ro"
        ro = self.open(n, readonly=True)
        self.assertEqual(ro[:2], b"ro")
        with self.assertRaises(TypeError):
            ro[0] = 1
        with self.assertRaises(TypeError):
            ro.write(b"x")
        with self.assertRaises(TypeError):
            mmkit.Lock(ro, 0)
        self.assertIn("ACCESS_READ", repr(ro))

    @unittest.skipUnless(HAVE_DEV_SHM, "needs Linux /dev/shm to see the mode")
    def test_mode_is_exact(self):
        old = os.umask(0o077)
        try:
            a, b = self.new_name(), self.new_name()
            self.open(a, 10, create=True)
            self.open(b, 10, create=True, mode=0o640)
        finally:
            os.umask(old)
        self.assertEqual(stat.S_IMODE(os.stat(shm_path(a)).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(shm_path(b)).st_mode), 0o640)  # umask ignored

    def test_wider_mode_is_refused(self):
        n = self.new_name()
        self.open(n, 4096, create=True, mode=0o644)
        for kwargs in ({}, {"create": True, "size": 8192}, {"readonly": True}):
            with self.assertRaises(PermissionError, msg=kwargs) as cm:
                mmkit.shm_open(n, **kwargs)
            self.assertEqual(cm.exception.errno, errno.EPERM)
            self.assertEqual(cm.exception.filename, n)
            self.assertIn("any_owner=True", str(cm.exception))
        self.assertEqual(len(self.open(n, mode=0o644)), 4096)  # not grown
        self.assertEqual(len(self.open(n, any_owner=True)), 4096)

    def test_another_users_object_is_refused(self):
        if os.geteuid() != 0:
            self.skipTest("planting an object as another user needs root (run as root to test "
                          "the owner check against a real other uid)")
        n = self.new_name()

        def plant():
            os.setgid(65534)
            os.setuid(65534)  # nobody
            sm = mmkit.shm_open(n, 4096, create=True, exclusive=True, mode=0o600)
            sm[:7] = b"planted"
            sm.close()

        self.assertEqual(wait_status(fork_child(plant)), (0, None))
        if HAVE_DEV_SHM:
            self.assertEqual(os.stat(shm_path(n)).st_uid, 65534)
        for kwargs in ({}, {"create": True}, {"create": True, "size": 8192}, {"mode": 0o666}):
            with self.assertRaises(PermissionError, msg=kwargs) as cm:
                mmkit.shm_open(n, **kwargs)
            self.assertEqual(cm.exception.errno, errno.EPERM)
            self.assertIn("owned by another user", str(cm.exception))
        sm = self.open(n, any_owner=True)  # on purpose: accepted
        self.assertEqual(len(sm), 4096)  # and the refused calls did not grow it
        self.assertEqual(sm[:7], b"planted")

    def test_bad_arguments(self):
        for bad in ("", "/", "a/b", "/a/b", ".", "..", "/..", "x" * 256):
            with self.assertRaises(ValueError, msg=bad) as cm:
                mmkit.shm_open(bad, 10, create=True)
            self.assertIn("invalid shared memory name", str(cm.exception))
            with self.assertRaises(ValueError, msg=bad):
                mmkit.shm_unlink(bad)
        with self.assertRaises(ValueError):
            mmkit.shm_open("a\0b", 10, create=True)
        for bad in (123, None, 1.5):
            with self.assertRaises(TypeError):
                mmkit.shm_open(bad)
            with self.assertRaises(TypeError):
                mmkit.shm_unlink(bad)
        n = self.new_name()
        with self.assertRaises(ValueError):
            mmkit.shm_open(n, -1, create=True)
        with self.assertRaisesRegex(ValueError, "exclusive=True needs create=True"):
            mmkit.shm_open(n, 10, exclusive=True)
        for mode in (0, -1, 0o1000, 0o4600):
            with self.assertRaisesRegex(ValueError, "mode must be", msg=oct(mode)):
                mmkit.shm_open(n, 10, create=True, mode=mode)
        with self.assertRaises(TypeError):
            mmkit.shm_open(n, 10, True)  # the flags are keyword-only
        with self.assertRaises(FileNotFoundError):  # none of that created it
            mmkit.shm_open(n)
        longest = self.new_name()
        longest = "/" + "y" * 255
        self.addCleanup(unlink_quietly, longest)
        self.assertEqual(len(self.open(longest, 10, create=True)), 10)

    def test_type(self):
        n = self.new_name()
        sm = mmkit.shm_open(n, 4096, create=True)
        with self.assertRaises(TypeError):
            mmkit.SharedMemory()
        with self.assertRaises(TypeError):
            mmkit.SharedMemory(-1, 10)
        with self.assertRaises(AttributeError):
            sm.name = "/other"
        with self.assertRaises(AttributeError):
            sm.created = False
        self.assertEqual(
            repr(sm),
            "<mmkit.SharedMemory name=%r, created=True, closed=False, access=ACCESS_WRITE, "
            "length=4096>" % n)
        self.assertEqual(sm.find(b"\0"), 0)
        self.assertEqual(sm.count(b"\0\0\0\0"), 1024)
        with sm:
            sm.write(b"with")
        self.assertTrue(sm.closed)
        self.assertEqual(repr(sm), "<mmkit.SharedMemory name=%r, created=True, closed=True>" % n)
        with self.assertRaises(ValueError):
            sm[0]
        self.assertEqual(self.open(n)[:4], b"with")
        sm.unlink()  # works on a closed map: it is about the name
        del sm
        gc.collect()

    def test_open_or_create_race_has_one_creator(self):
        n = self.new_name()
        procs = 6
        r, w = os.pipe()

        def racer():
            os.close(w)
            os.read(r, 1)  # all start together
            sm = mmkit.shm_open(n, 4096, create=True)
            os._exit(10 + sm.created)

        pids = [fork_child(racer) for _ in range(procs)]
        os.close(r)
        os.write(w, b"x" * procs)
        os.close(w)
        codes = sorted(wait_status(pid)[0] for pid in pids)
        self.assertEqual(codes, [10] * (procs - 1) + [11])


# ---------------------------------------------------------------------------
# The lock
# ---------------------------------------------------------------------------


class _Interrupted(Exception):
    pass


class LockTest(ShmTestCase, TempDirTestCase):
    kills = 0

    def setUp(self):
        TempDirTestCase.setUp(self)
        self.name = self.new_name("lock")
        self.sm = mmkit.shm_open(self.name, COUNTER_SIZE, create=True, exclusive=True)
        self.lock = mmkit.Lock(self.sm, LOCK_AT, init=True)
        self.addCleanup(self.close_all)

    def close_all(self):
        for lock in (self.lock,):
            try:
                lock.release()
            except (RuntimeError, ValueError, OSError):
                pass
            lock.close()
        self.sm.close()

    def holder(self, then=None):
        """A forked child that takes the lock, runs then(), reports on a pipe
        and waits: until killed, or until told (release_holder) to release
        and exit. Returns (pid, release_fd)."""
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        name = self.name

        def child():
            os.close(ready_r)
            os.close(go_w)
            mm = mmkit.shm_open(name)
            lock = mmkit.Lock(mm, LOCK_AT)
            lock.acquire()
            if then is not None:
                then(mm)
            os.write(ready_w, b"x")
            os.read(go_r, 1)
            lock.release()

        pid = fork_child(child)
        os.close(ready_w)
        os.close(go_r)
        self.assertEqual(os.read(ready_r, 1), b"x")
        os.close(ready_r)
        self.addCleanup(self.reap, pid, go_w)
        return pid, go_w

    def reap(self, pid, go_w):
        try:
            os.write(go_w, b"x")
        except OSError:
            pass
        os.close(go_w)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass

    def kill_holder(self, then=None):
        """A holder killed with SIGKILL while it holds the lock."""
        pid, _ = self.holder(then)
        os.kill(pid, signal.SIGKILL)
        self.assertEqual(wait_status(pid), (None, signal.SIGKILL))
        LockTest.kills += 1

    def try_in_child(self, **kwargs):
        """What acquire(**kwargs) gives in another process: 'True' (then it
        releases), 'False' or the exception's class name (OwnerDiedError:
        then that process exits holding the lock)."""
        r, w = os.pipe()
        name = self.name

        def child():
            os.close(r)
            mm = mmkit.shm_open(name)
            lock = mmkit.Lock(mm, LOCK_AT)
            try:
                got = lock.acquire(**kwargs)
                if got:
                    lock.release()
                got = str(got)
            except Exception as e:  # noqa: BLE001 - reported to the parent
                got = type(e).__name__
                _keep.append(lock)  # exits holding it: no warning about dropping it
            os.write(w, got.encode())

        pid = fork_child(child)
        os.close(w)
        got = os.read(r, 100).decode()
        os.close(r)
        self.assertEqual(wait_status(pid), (0, None))
        return got

    # -- basics -------------------------------------------------------------

    def test_basics(self):
        self.assertEqual(mmkit.LOCK_SIZE, 64)
        lock = self.lock
        self.assertEqual(lock.offset, 0)
        self.assertFalse(lock.closed)
        self.assertFalse(lock.owner_died)
        self.assertIs(lock.acquire(), True)
        self.assertIn("held=True", repr(lock))
        self.assertEqual(self.try_in_child(blocking=False), "False")
        lock.release()
        self.assertIn("held=False", repr(lock))
        self.assertEqual(self.try_in_child(blocking=False), "True")
        with lock as entered:
            self.assertIs(entered, lock)
            self.assertEqual(self.try_in_child(timeout=0.05), "False")
        self.assertIs(lock.acquire(blocking=False), True)
        lock.release()
        self.assertIs(lock.acquire(timeout=0), True)
        lock.release()
        second = mmkit.Lock(self.sm, 0)  # another object over the same lock
        with second:
            self.assertEqual(self.try_in_child(blocking=False), "False")
            with self.assertRaisesRegex(RuntimeError, "not re-entrant"):
                lock.acquire(blocking=False)  # this thread holds it, through `second`
        self.assertEqual(self.try_in_child(blocking=False), "True")
        second.close()
        self.assertTrue(second.closed)
        ref = weakref.ref(second)
        del second
        self.assertIsNone(ref())

    def test_argument_errors(self):
        sm, lock = self.sm, self.lock
        for off in (-8, len(sm) - 63, len(sm), 1 << 40):
            with self.assertRaises(ValueError, msg=off):
                mmkit.Lock(sm, off)
        with self.assertRaisesRegex(ValueError, "8-byte aligned"):
            mmkit.Lock(sm, 4, init=True)
        with self.assertRaisesRegex(ValueError, "all zero"):
            mmkit.Lock(sm, 256)  # nobody initialised a lock there
        mmkit.Lock(sm, len(sm) - 64, init=True).close()  # the last place that fits
        with self.assertRaises((BufferError, TypeError)):
            mmkit.Lock(b"x" * 64, 0)
        with self.assertRaises(TypeError):
            mmkit.Lock(123)
        with self.assertRaises(TypeError):
            mmkit.Lock(sm, 0, repair=5)
        with self.assertRaises(TypeError):
            mmkit.Lock(sm, 0, True)  # init is keyword-only
        with open(self.make_file(bytes(4096)), "r+b") as f:
            cow = mmkit.mmap(f.fileno(), 0, access=mmkit.ACCESS_COPY)
        with self.assertRaisesRegex(ValueError, "ACCESS_COPY"):
            mmkit.Lock(cow, 0, init=True)
        cow.close()
        with self.assertRaises(ValueError):
            mmkit.Lock(cow, 0)  # closed map

        with self.assertRaisesRegex(RuntimeError, "does not hold"):
            lock.release()
        with self.assertRaisesRegex(RuntimeError, "consistent"):
            lock.consistent()
        with self.assertRaisesRegex(ValueError, "non-blocking"):
            lock.acquire(False, 1)
        for bad in (-2, -0.5, float("nan")):
            with self.assertRaises(ValueError, msg=bad):
                lock.acquire(timeout=bad)
        with self.assertRaises(TypeError):
            lock.acquire(timeout="1")
        lock.acquire()
        with self.assertRaisesRegex(RuntimeError, "not re-entrant"):
            lock.acquire()
        with self.assertRaisesRegex(RuntimeError, "not re-entrant"):
            lock.acquire(blocking=False)
        with self.assertRaisesRegex(RuntimeError, "consistent"):
            lock.consistent()  # held, but its owner did not die
        with self.assertRaisesRegex(RuntimeError, "release"):
            lock.close()
        lock.release()
        lock.close()
        lock.close()  # twice is fine
        self.assertTrue(lock.closed)
        self.assertIn("closed=True", repr(lock))
        for call in (lock.acquire, lock.release, lock.consistent, lock.__enter__):
            with self.assertRaisesRegex(ValueError, "closed"):
                call()

    def test_lock_pins_the_map(self):
        with self.assertRaises(BufferError):
            self.sm.close()
        with self.assertRaises(BufferError):
            self.sm.resize(2 * COUNTER_SIZE)
        extra = mmkit.Lock(self.sm, LOCK_AT)
        self.lock.close()
        with self.assertRaises(BufferError):
            self.sm.close()  # `extra` still pins it
        del extra
        gc.collect()
        self.sm.close()
        self.assertTrue(self.sm.closed)

    def test_deleted_while_held_keeps_memory_pinned(self):
        lock = mmkit.Lock(self.sm, LOCK_AT)
        lock.acquire()
        with self.assertWarns(ResourceWarning):
            del lock
            gc.collect()
        # This thread still holds the lock: the memory must stay mapped.
        with self.assertRaises(BufferError):
            self.sm.close()
        self.assertEqual(self.try_in_child(blocking=False), "False")
        # (The map is left pinned for the rest of the process, by design.)
        self.sm = mmkit.shm_open(self.name)
        self.lock = mmkit.Lock(self.sm, COUNTER, init=True)

    def test_anonymous_map_shared_with_fork(self):
        mm = mmkit.mmap(-1, 4096)
        lock = mmkit.Lock(mm, 0, init=True)
        lock.acquire()
        r, w = os.pipe()

        def child():
            os.close(r)
            got = lock.acquire(blocking=False)  # the parent holds it
            os.write(w, b"1" if got else b"0")
            self.assertTrue(lock.acquire(timeout=60))  # once the parent releases
            mm[100] = 42
            lock.release()

        pid = fork_child(child)
        os.close(w)
        self.assertEqual(os.read(r, 1), b"0")
        os.close(r)
        lock.release()
        self.assertEqual(wait_status(pid), (0, None))
        with lock:
            self.assertEqual(mm[100], 42)
        lock.close()
        mm.close()

    # -- waiting ------------------------------------------------------------

    def test_timeout_and_blocking_wait(self):
        pid, go = self.holder()
        self.assertIs(self.lock.acquire(blocking=False), False)
        start = time.monotonic()
        self.assertIs(self.lock.acquire(timeout=0.2), False)
        self.assertGreaterEqual(time.monotonic() - start, 0.2)
        self.assertIs(self.lock.acquire(timeout=0), False)
        threading.Timer(0.1, os.write, (go, b"x")).start()  # the holder releases soon
        self.assertIs(self.lock.acquire(), True)  # and we get it
        self.assertEqual(wait_status(pid), (0, None))
        self.lock.release()

    def test_gil_is_released_while_waiting(self):
        self.holder()
        spins = [0]
        stop = threading.Event()

        def spin():
            while not stop.is_set():
                spins[0] += 1

        t = threading.Thread(target=spin)
        t.start()
        try:
            time.sleep(0.05)
            before = spins[0]
            self.assertIs(self.lock.acquire(timeout=0.3), False)
            during = spins[0] - before
        finally:
            stop.set()
            t.join()
        self.assertGreater(during, 0)  # the other thread ran while we waited

    @unittest.skipUnless(hasattr(signal, "setitimer"), "needs setitimer")
    def test_signal_handler_interrupts_wait(self):
        self.holder()

        def handler(signum, frame):
            raise _Interrupted()

        old = signal.signal(signal.SIGALRM, handler)
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.1)
            with self.assertRaises(_Interrupted):
                self.lock.acquire()  # no timeout: only the signal ends the wait
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        self.assertIs(self.lock.acquire(blocking=False), False)  # not taken

    def test_threads(self):
        lock = self.lock
        sm = self.sm
        rounds = 3000

        def bump():
            for _ in range(rounds):
                with lock:
                    v = read_q(sm, COUNTER)
                    if v % 97 == 0:
                        time.sleep(0)  # invite a thread switch mid-update
                    Q.pack_into(sm, COUNTER, v + 1)

        threads = [threading.Thread(target=bump) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(read_q(sm, COUNTER), 3 * rounds)

        # Ownership is per thread.
        results = []
        lock.acquire()
        t = threading.Thread(target=lambda: results.append(outcome(lock.release)))
        t.start()
        t.join()
        self.assertEqual(results, ["RuntimeError"])

        def take_and_give_back():
            results.append(outcome(lock.acquire, timeout=30))
            if results[-1] == "True":
                lock.release()

        # A thread waiting for the lock blocks close(); once this thread
        # releases, the waiter gets the lock.
        waiter = threading.Thread(target=take_and_give_back)
        waiter.start()
        while True:
            with self.assertRaises(RuntimeError) as cm:
                lock.close()
            if "waiting" in str(cm.exception):
                break
            self.assertIn("held", str(cm.exception))  # the waiter is not waiting yet
            time.sleep(0.01)
        lock.release()
        waiter.join()
        self.assertEqual(results[1:], ["True"])
        self.assertFalse(lock.closed)

    # -- the owner dies ------------------------------------------------------

    def test_owner_died_raises_with_the_lock_held(self):
        def mark(mm):
            mm[WHO] = 1

        self.kill_holder(then=mark)
        with self.assertRaises(mmkit.OwnerDiedError) as cm:
            self.lock.acquire()
        e = cm.exception
        self.assertIsInstance(e, RuntimeError)
        self.assertIs(e.lock, self.lock)
        self.assertIn("consistent()", str(e))
        self.assertTrue(self.lock.owner_died)
        self.assertIn("owner_died=True", repr(self.lock))
        self.assertEqual(self.try_in_child(blocking=False), "False")  # we hold it
        self.sm[WHO] = 0  # the repair
        self.lock.consistent()
        self.assertFalse(self.lock.owner_died)
        self.lock.release()
        self.assertIs(self.lock.acquire(), True)  # an ordinary lock again
        self.lock.release()
        self.assertEqual(self.try_in_child(), "True")

    def test_thread_that_dies_holding_the_lock(self):
        if POSIX_ONLY:
            self.skipTest(
                "the POSIX-only build's lock (a lock file) detects the death of a process, "
                "not of a thread in a live process (docs/platforms.md)"
            )
        t = threading.Thread(target=self.lock.acquire)  # and ends, holding it
        t.start()
        t.join()
        with self.assertRaises(mmkit.OwnerDiedError):
            self.lock.acquire()
        self.lock.consistent()
        self.lock.release()
        self.assertEqual(self.try_in_child(), "True")

    def test_owner_died_in_with_statement_without_repair(self):
        self.kill_holder()
        ran = False
        with self.assertRaises(mmkit.OwnerDiedError):
            with self.lock:
                ran = True
        self.assertFalse(ran)  # the body never runs on unrepaired state
        self.assertTrue(self.lock.owner_died)
        self.lock.consistent()
        self.lock.release()
        with self.lock:
            ran = True
        self.assertTrue(ran)

    def test_owner_died_nonblocking_and_in_another_process(self):
        self.kill_holder()
        self.assertEqual(self.try_in_child(blocking=False), "OwnerDiedError")
        # That process exited holding it, unrepaired: owner-died again, for us.
        with self.assertRaises(mmkit.OwnerDiedError):
            self.lock.acquire(blocking=False)
        self.lock.consistent()
        self.lock.release()

    def test_repair_function(self):
        calls = []

        def repair(lock):
            calls.append(lock)
            self.assertTrue(lock.owner_died)
            repair_counter(self.sm)

        def half_update(mm):
            Q.pack_into(mm, UNDO_COUNTER, 5)
            mm[WHO] = 1
            Q.pack_into(mm, COUNTER, 999)

        lock = mmkit.Lock(self.sm, LOCK_AT, repair=repair)
        self.kill_holder(then=half_update)
        with lock:
            self.assertEqual(calls, [lock])
            self.assertFalse(lock.owner_died)
            self.assertEqual(read_q(self.sm, COUNTER), 5)  # undone
            self.assertEqual(self.sm[WHO], 0)
        with lock:
            pass
        self.assertEqual(len(calls), 1)  # only after a death
        self.assertIs(lock.acquire(), True)
        lock.release()
        lock.close()

    def test_repair_function_that_marks_consistent_itself(self):
        lock = mmkit.Lock(self.sm, LOCK_AT, repair=lambda lk: lk.consistent())
        self.kill_holder()
        self.assertIs(lock.acquire(), True)
        self.assertFalse(lock.owner_died)
        lock.release()
        lock.close()

    def test_failing_repair_keeps_the_lock_unrepaired(self):
        def repair(lock):
            raise ZeroDivisionError("cannot repair")

        lock = mmkit.Lock(self.sm, LOCK_AT, repair=repair)
        self.kill_holder()
        with self.assertRaises(ZeroDivisionError):
            with lock:
                self.fail("the body ran after a failed repair")
        self.assertTrue(lock.owner_died)  # held, still unrepaired
        self.assertEqual(self.try_in_child(blocking=False), "False")
        lock.consistent()
        lock.release()
        lock.close()

    def test_release_without_consistent_is_not_recoverable(self):
        self.kill_holder()
        with self.assertRaises(mmkit.OwnerDiedError):
            self.lock.acquire()
        self.lock.release()  # gives up: the state cannot be repaired
        self.assertFalse(self.lock.owner_died)
        for kwargs in ({}, {"blocking": False}, {"timeout": 1}):
            with self.assertRaises(mmkit.LockNotRecoverableError, msg=kwargs) as cm:
                self.lock.acquire(**kwargs)
            self.assertIsInstance(cm.exception, RuntimeError)
            self.assertIn("not recoverable", str(cm.exception))
        with self.assertRaises(mmkit.LockNotRecoverableError):
            with self.lock:
                self.fail("entered an unrecoverable lock")
        self.assertEqual(self.try_in_child(), "LockNotRecoverableError")
        self.assertEqual(self.try_in_child(blocking=False), "LockNotRecoverableError")
        # Nobody uses it now: initialising it again gives a working lock.
        fresh = mmkit.Lock(self.sm, LOCK_AT, init=True)
        self.assertIs(self.lock.acquire(), True)
        self.lock.release()
        fresh.close()

    @unittest.skipUnless(HAVE_DEV_SHM, "needs /dev/shm to truncate the object")
    def test_truncated_memory_raises_efault(self):
        os.truncate(shm_path(self.name), 0)
        for call in (self.lock.acquire, self.lock.release, self.lock.consistent):
            with self.assertRaises(OSError, msg=call.__name__) as cm:
                call()
            self.assertEqual(cm.exception.errno, errno.EFAULT)
        with self.assertRaises(OSError):
            mmkit.Lock(self.sm, LOCK_AT)
        with self.assertRaises(OSError):
            mmkit.Lock(self.sm, LOCK_AT, init=True)

    # -- many processes ------------------------------------------------------

    def test_shared_counter_many_processes_and_kills(self):
        """8 workers x 2000 increments (forked, spawn opening by name, and
        unrelated subprocesses) while one holder is killed mid-update and
        another at an arbitrary moment: no update lost, none half-done."""
        name = self.name
        sm = self.sm
        rounds = 2000
        forked, spawned, unrelated = 3, 3, 2
        workers = forked + spawned + unrelated
        stuck_slot, loose_slot = workers, workers + 1
        counts = {"processes": 0, "killed": 0}

        # 1. A holder that dies mid-update: everyone else must wait for the
        #    kill, and the first to get the lock must undo its +1000.
        ready_r, ready_w = os.pipe()
        stuck = fork_child(hold_mid_update, name, stuck_slot, ready_w)
        counts["processes"] += 1
        os.close(ready_w)
        self.assertEqual(os.read(ready_r, 1), b"x")
        os.close(ready_r)

        # 2. The workers, all started while the lock is held by `stuck`.
        pids = [fork_child(counter_worker, name, slot, rounds) for slot in range(forked)]
        ctx = multiprocessing.get_context("spawn")
        spawn_procs = [ctx.Process(target=counter_worker, args=(name, slot, rounds))
                       for slot in range(forked, forked + spawned)]
        for p in spawn_procs:
            p.start()
        env = dict(os.environ)
        subs = [subprocess.Popen([sys.executable, "-c", SUBPROCESS_WORKER, TESTS_DIR, name,
                                  str(slot), str(rounds)], env=env)
                for slot in range(forked + spawned, workers)]
        counts["processes"] += workers
        # 3. One more that adds forever until it is killed wherever it is.
        loose = fork_child(counter_worker, name, loose_slot, -1)
        counts["processes"] += 1

        os.kill(stuck, signal.SIGKILL)
        self.assertEqual(wait_status(stuck), (None, signal.SIGKILL))
        counts["killed"] += 1
        while read_q(sm, DONE + 8 * loose_slot) <= 300:
            time.sleep(0.001)
        os.kill(loose, signal.SIGKILL)
        self.assertEqual(wait_status(loose), (None, signal.SIGKILL))
        counts["killed"] += 1

        for pid in pids:
            self.assertEqual(wait_status(pid), (0, None))
        for p in spawn_procs:
            p.join()
            self.assertEqual(p.exitcode, 0)
        for s in subs:
            self.assertEqual(s.wait(), 0)

        # 4. Check, under the lock (which repairs if `loose` died holding it).
        with counter_lock(sm):
            total = read_q(sm, COUNTER)
            done = [read_q(sm, DONE + 8 * s) for s in range(MAX_SLOTS)]
            repairs = read_q(sm, REPAIRS)
            self.assertEqual(sm[WHO], 0)
        self.assertEqual(done[:workers], [rounds] * workers)
        self.assertEqual(done[stuck_slot], 0)  # its half update was undone
        self.assertGreaterEqual(done[loose_slot], 300)
        self.assertEqual(total, sum(done))  # nothing lost, nothing half-done
        self.assertIn(repairs, (1, 2))  # `stuck` for sure; `loose` if it held the lock
        LockTest.kills += counts["killed"]
        sys.stderr.write(
            "\nshared counter: %d processes (%d forked + %d spawn + %d subprocess workers x %d "
            "increments, 2 killed holders), %d killed with SIGKILL, %d repairs, counter = %d = "
            "%d x %d + %d from the process killed at an arbitrary moment\n"
            % (counts["processes"], forked, spawned, unrelated, rounds, counts["killed"], repairs,
               total, workers, rounds, done[loose_slot]))

    @classmethod
    def tearDownClass(cls):
        sys.stderr.write("\nLockTest: %d lock holders killed with SIGKILL\n" % cls.kills)


def outcome(fn, *args, **kwargs):
    try:
        return str(fn(*args, **kwargs))
    except Exception as e:  # noqa: BLE001 - reported to the test
        return type(e).__name__


if __name__ == "__main__":
    unittest.main()
