"""shared_counter.py -- named shared memory and a lock that survives the death
of its holder.

The parent creates a named shared memory object (mmkit.shm_open) holding a
robust, process-shared lock (mmkit.Lock) and a counter. Worker processes,
started with multiprocessing's "spawn" method so that they share nothing with
the parent but the name, open the object by name, as unrelated programs
would, and each add 1 to the counter many times under the lock. The total
comes out exact.

Before the workers get the lock, one more process takes it, leaves an update
half done and is killed with SIGKILL while it holds the lock, as a crash or
the OOM killer would. The lock is not lost: the next process to take it (a
worker, whichever comes first) gets it with the previous owner marked dead,
and the Lock's repair function puts the shared state back before the `with`
body runs. Repair is exact because every update keeps an undo journal in the
shared memory: first the old values, then "update in progress", then the
update, then "done".

Usage: python3 shared_counter.py [PROCESSES [INCREMENTS]]
"""
import multiprocessing
import os
import signal
import struct
import sys
import time

import mmkit

# Layout of the shared memory. Native "Q" fields at 8-byte aligned offsets are
# each written with a single store, so a process killed mid-update leaves
# every field either old or new, never half-written; WHO is a single byte.
Q = struct.Struct("Q")
LOCK = 0  # mmkit.LOCK_SIZE bytes
COUNTER = 64  # the protected counter
OLD_COUNTER = 72  # undo journal: the counter before the update in progress,
OLD_DONE = 80  # and the updater's tally before it
WHO = 88  # 1 + slot of the process whose update is in progress; 0: none
REPAIRS = 96  # how many times a repair ran
HOLDING = 104  # set by the process that is about to be killed
DONE = 128  # one tally per process: the increments it committed
MAX_PROCS = 64
SIZE = DONE + 8 * (MAX_PROCS + 1)


def get(mm, at):
    return Q.unpack_from(mm, at)[0]


def repair(mm):
    """Undo what a process that died holding the lock left half done."""
    who = mm[WHO]
    if who:
        Q.pack_into(mm, COUNTER, get(mm, OLD_COUNTER))
        Q.pack_into(mm, DONE + 8 * (who - 1), get(mm, OLD_DONE))
        mm[WHO] = 0
    Q.pack_into(mm, REPAIRS, get(mm, REPAIRS) + 1)
    print("shared_counter: a process died holding the lock; state repaired", file=sys.stderr)


def open_shared(name):
    """Open the object by name, and its lock, which repairs after a death."""
    mm = mmkit.shm_open(name)
    return mm, mmkit.Lock(mm, LOCK, repair=lambda lock: repair(mm))


def begin_update(mm, slot, new_counter):
    """Write the undo journal, then the new counter (the lock is held)."""
    c = get(mm, COUNTER)
    Q.pack_into(mm, OLD_COUNTER, c)
    Q.pack_into(mm, OLD_DONE, get(mm, DONE + 8 * slot))
    mm[WHO] = slot + 1
    Q.pack_into(mm, COUNTER, new_counter(c))


def worker(name, slot, rounds):
    mm, lock = open_shared(name)
    for _ in range(rounds):
        with lock:
            begin_update(mm, slot, lambda c: c + 1)
            Q.pack_into(mm, DONE + 8 * slot, get(mm, DONE + 8 * slot) + 1)
            mm[WHO] = 0  # done
    lock.close()
    mm.close()


def die_holding_the_lock(name, slot):
    mm, lock = open_shared(name)
    lock.acquire()
    begin_update(mm, slot, lambda c: c + 1000)  # and never finish it
    mm[HOLDING] = 1
    while True:
        time.sleep(60)  # until SIGKILL


def main():
    procs = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    if not 1 <= procs <= MAX_PROCS or rounds < 1:
        sys.exit("usage: shared_counter.py [PROCESSES [INCREMENTS]]")

    # A name nobody else uses; created 0600, so only this user can open it.
    name = "/mmk-example-counter-py-%d" % os.getpid()
    mm = mmkit.shm_open(name, SIZE, create=True, exclusive=True)
    try:
        # The creator initialises the lock (mm.created says who, when several
        # processes open-or-create one name); the memory starts zero-filled.
        lock = mmkit.Lock(mm, LOCK, init=True, repair=lambda lock: repair(mm))
        spawn = multiprocessing.get_context("spawn")

        victim = spawn.Process(target=die_holding_the_lock, args=(name, procs))
        victim.start()
        while not mm[HOLDING] and victim.is_alive():
            time.sleep(0.001)
        workers = [spawn.Process(target=worker, args=(name, p, rounds)) for p in range(procs)]
        for w in workers:
            w.start()  # they wait for the lock that the victim holds
        victim.kill()  # SIGKILL
        victim.join()
        for w in workers:
            w.join()
        failed = victim.exitcode != -signal.SIGKILL or any(w.exitcode != 0 for w in workers)

        with lock:
            total = get(mm, COUNTER)
            done = [get(mm, DONE + 8 * p) for p in range(procs + 1)]
            repairs = get(mm, REPAIRS)
        lock.close()
    finally:
        mmkit.shm_unlink(name)  # the memory itself goes with the last map
    mm.close()

    expected = procs * rounds
    print("%d processes x %d increments under a robust lock in named shared memory"
          % (procs, rounds))
    print("one more process was killed (SIGKILL) holding the lock mid-update; repairs: %d"
          % repairs)
    print("counter = %d (expected %d)" % (total, expected))
    if (failed or repairs != 1 or total != expected or done[:procs] != [rounds] * procs
            or done[procs] != 0):
        sys.exit(1)


if __name__ == "__main__":
    main()
