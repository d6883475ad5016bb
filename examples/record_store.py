"""record_store.py — the database use of a map, in Python: a file of
fixed-size records updated in place at random through a write map, grown by
appending (mm.resize), and read at the same time by another process through
a read-only map that follows the file's growth (mm.follow_file()).

The same file format, the same flush order and the same output as
record_store.c (read its comment for the reasoning); in short:

  header (64 bytes): b"MMKREC01", slot size 64, 2 slots per record, and at
  offset 16 the published record count (8 bytes, little-endian)
  record i at 64 + 128 * i: slots A and B of 64 bytes each,
  a slot: id (8) | seq (8) | payload (40) | FNV-1a checksum of the 56 before

- An update writes the new version (seq + 1) into the slot that does NOT
  hold the current value, then flushes it: a writer killed half way leaves a
  torn slot and an intact current one.
- An append writes and flushes the record past the published count first,
  and only then stores count + 1 and flushes the header: the count never
  covers a record that is not complete on disk.

Usage:
  python3 record_store.py write FILE APPENDS UPDATES [SEED]
  python3 record_store.py verify FILE
  python3 record_store.py torture FILE ROUNDS
"""

import os
import signal
import struct
import sys
import time

import mmkit

SLOT = 64
HEADER = 64
RECORD = 2 * SLOT
COUNT_AT = 16
PAYLOAD = 40
MAGIC = b"MMKREC01"
M64 = (1 << 64) - 1


def fnv1a(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


class SplitMix:
    def __init__(self, seed):
        self.s = seed & M64

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)


def make_slot(rec_id, seq):
    """Version `seq` of record `rec_id`: the payload is a function of both."""
    st = SplitMix(rec_id * 1000003 + seq)
    body = struct.pack("<QQ", rec_id, seq) + b"".join(
        struct.pack("<Q", st.next()) for _ in range(PAYLOAD // 8))
    return body + struct.pack("<Q", fnv1a(body))


def slot_seq(s, rec_id):
    """The slot's seq if it is a valid version of record `rec_id`, else 0."""
    i, seq = struct.unpack_from("<QQ", s)
    if i != rec_id or seq == 0 or s != make_slot(rec_id, seq):
        return 0
    return seq


def rec_off(rec_id):
    return HEADER + rec_id * RECORD


# ---- the writer ------------------------------------------------------------


class Store:
    def __init__(self, path, slow=False):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(fd).st_size == 0:  # a new file: the header, made durable
            os.write(fd, MAGIC + struct.pack("<II", SLOT, 2) + bytes(HEADER - 16))
            os.fsync(fd)
        self.mm = mmkit.mmap(fd, 0)
        os.close(fd)
        if self.mm[:8] != MAGIC:
            raise SystemExit(f"record_store: {path}: not a record store")
        self.count = struct.unpack_from("<Q", self.mm, COUNT_AT)[0]
        self.capacity = (len(self.mm) - HEADER) // RECORD
        self.slow = slow

    def put(self, off, data):
        """In the torture test the bytes go 16 at a time with a pause between,
        so that a kill often lands inside a write (the 8-byte count is one
        store either way)."""
        if not self.slow:
            self.mm[off:off + len(data)] = data
            return
        for i in range(0, len(data), 16):
            piece = data[i:i + 16]
            self.mm[off + i:off + i + len(piece)] = piece
            time.sleep(0.0002)

    def flush(self, off, n):
        start = off - off % mmkit.PAGESIZE  # msync wants a page-aligned start
        self.mm.flush(start, off + n - start)

    def append(self):
        if self.count == self.capacity:
            cap = 2 * self.capacity if self.capacity else 4
            self.mm.resize(HEADER + cap * RECORD)
            self.capacity = cap
        rec_id = self.count
        # 1. the record (slot B stays invalid), durable before it is published
        self.put(rec_off(rec_id), make_slot(rec_id, 1) + bytes(SLOT))
        self.flush(rec_off(rec_id), RECORD)
        # 2. publish: the new count in one 8-byte store, then flushed
        self.put(COUNT_AT, struct.pack("<Q", rec_id + 1))
        self.flush(0, HEADER)
        self.count = rec_id + 1

    def update(self, rec_id):
        off = rec_off(rec_id)
        a = slot_seq(self.mm[off:off + SLOT], rec_id)
        b = slot_seq(self.mm[off + SLOT:off + RECORD], rec_id)
        if a == 0 and b == 0:
            raise SystemExit(f"record_store: record {rec_id} has no valid slot")
        target = off + (SLOT if a >= b else 0)  # not the current value
        self.put(target, make_slot(rec_id, max(a, b) + 1))
        self.flush(target, SLOT)


def run_writer(path, appends, updates, seed, quiet=False, slow=False):
    st = Store(path, slow)
    rng = SplitMix(seed)
    a = u = 0
    while (appends < 0 or a < appends) or u < updates:
        append = (st.count == 0 or u >= updates
                  or ((appends < 0 or a < appends) and rng.next() % 3 == 0))
        if append:
            st.append()
            a += 1
        else:
            st.update(rng.next() % st.count)
            u += 1
    if not quiet:
        print(f"published {st.count} records, capacity {st.capacity}, "
              f"{a} appends, {u} updates")
    st.mm.close()
    return 0


# ---- the reader ------------------------------------------------------------


def check_records(mm, count, live):
    """(records with no valid slot, sum of the current seqs). With a writer
    live, a record whose two slots both look torn is read again."""
    bad = seqs = 0
    for rec_id in range(count):
        off = rec_off(rec_id)
        a = b = 0
        for _ in range(1000 if live else 1):
            r = mm[off:off + RECORD]
            a, b = slot_seq(r[:SLOT], rec_id), slot_seq(r[SLOT:], rec_id)
            if a or b:
                break
        bad += a == 0 and b == 0
        seqs += max(a, b)
    return bad, seqs


def read_count(mm):
    return struct.unpack_from("<Q", mm, COUNT_AT)[0]


def open_read(path):
    with open(path, "rb") as f:
        return mmkit.mmap(f.fileno(), 0, access=mmkit.ACCESS_READ)


def verify(path):
    mm = open_read(path)
    count = read_count(mm)
    if mm[:8] != MAGIC or rec_off(count) > len(mm):
        print(f"record_store: {path}: bad header", file=sys.stderr)
        return 1
    bad, seqs = check_records(mm, count, False)
    print(f"{count} published records, {seqs} versions, {bad} bad")
    mm.close()
    return 1 if bad else 0


def follow_reader(path, stop):
    """The reader process: follows the file's growth with follow_file()
    whenever the count reaches past its map, and checks every published
    record on every pass. 0 if nothing was ever wrong."""
    mm = open_read(path)
    last = passes = follows = bad = 0
    while True:
        last_pass = stop[0]  # after SIGTERM one more pass
        count = read_count(mm)
        if rec_off(count) > len(mm):
            length = mm.follow_file()
            follows += 1
            if rec_off(count) > length:
                print(f"reader: count {count} past the file ({length} bytes)", file=sys.stderr)
                bad += 1
        if count < last:
            print(f"reader: the count went back from {last} to {count}", file=sys.stderr)
            bad += 1
        last = count
        bad += check_records(mm, count, True)[0]
        passes += 1
        if last_pass:
            break
    print(f"reader: {passes} passes, followed the file {follows} times, up to {last} records",
          file=sys.stderr)
    mm.close()
    return 1 if bad else 0


# ---- the torture test ------------------------------------------------------


def torture(path, rounds):
    if os.path.exists(path):
        os.unlink(path)
    run_writer(path, 1, 0, 1, quiet=True)
    sys.stdout.flush()
    reader = os.fork()
    if reader == 0:
        stop = [False]
        signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
        os._exit(follow_reader(path, stop))
    rng = SplitMix(int(time.time()) ^ os.getpid())
    killed = failures = 0
    for r in range(rounds):
        w = os.fork()
        if w == 0:  # appends and updates until killed
            try:
                code = run_writer(path, -1, 1 << 40, rng.s + r, quiet=True, slow=True)
            except BaseException:
                code = 1
            os._exit(code)
        time.sleep(0.005 + rng.next() % 145000 / 1e6)  # a random moment, 5-150 ms in
        os.kill(w, signal.SIGKILL)
        _, status = os.waitpid(w, 0)
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            killed += 1
        else:
            failures += 1  # the writer stopped by itself: an error
        # As after a crash: open afresh, every published record must hold.
        mm = open_read(path)
        if check_records(mm, read_count(mm), False)[0]:
            print(f"round {r}: verification failed", file=sys.stderr)
            failures += 1
        mm.close()
    os.kill(reader, signal.SIGTERM)
    _, status = os.waitpid(reader, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        print("the reader saw a bad record", file=sys.stderr)
        failures += 1
    result = "FAILED" if failures else "every published record valid, reader agreed"
    print(f"torture: {rounds} rounds, writer killed {killed} times, {result}")
    return 1 if failures else 0


def main(argv):
    if len(argv) >= 5 and argv[1] == "write":
        seed = int(argv[5]) if len(argv) > 5 else 1
        return run_writer(argv[2], int(argv[3]), int(argv[4]), seed)
    if len(argv) == 3 and argv[1] == "verify":
        return verify(argv[2])
    if len(argv) == 4 and argv[1] == "torture":
        return torture(argv[2], int(argv[3]))
    print(__doc__.split("Usage:")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
