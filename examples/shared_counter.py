"""shared_counter.py -- memory shared between processes with an anonymous map.

mmap.mmap(-1, n) gives n bytes of zeroed memory that is shared with children
created by os.fork(): what a child writes, the parent reads. Each child here
adds 1 to a shared counter many times; a read-modify-write from several
processes loses updates unless it is done under a lock, so the counter is
guarded by a multiprocessing.Lock (a semaphore that also survives fork). Each
child also counts its own increments in a slot of its own, which needs no
lock at all because no other process writes there.

Usage: python3 shared_counter.py [PROCESSES [INCREMENTS]]
"""
import multiprocessing
import os
import struct
import sys

import mmkit as mmap

procs = int(sys.argv[1]) if len(sys.argv) > 1 else 4
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10000

# Layout: [0:8) the shared counter, then one 8-byte slot per child.
COUNTER = struct.Struct("=Q")
mm = mmap.mmap(-1, COUNTER.size * (1 + procs))
lock = multiprocessing.Lock()

children = []
for p in range(procs):
    pid = os.fork()
    if pid == 0:
        status = 0
        try:
            slot = COUNTER.size * (1 + p)
            for _ in range(rounds):
                with lock:
                    (value,) = COUNTER.unpack_from(mm, 0)
                    COUNTER.pack_into(mm, 0, value + 1)
                (mine,) = COUNTER.unpack_from(mm, slot)
                COUNTER.pack_into(mm, slot, mine + 1)
        except BaseException:
            status = 1
        os._exit(status)
    children.append(pid)

failed = False
for pid in children:
    _, status = os.waitpid(pid, 0)
    failed |= status != 0

(total,) = COUNTER.unpack_from(mm, 0)
per_child = [COUNTER.unpack_from(mm, COUNTER.size * (1 + p))[0] for p in range(procs)]
mm.close()

expected = procs * rounds
print("%d processes x %d increments under a lock" % (procs, rounds))
print("counter = %d (expected %d)" % (total, expected))
if failed or total != expected or per_child != [rounds] * procs:
    sys.exit(1)
