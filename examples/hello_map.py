"""hello_map.py -- the classic first memory-map program, with mmkit.

mmkit is a drop-in superset of the standard mmap module, so the classic code
runs unchanged after `import mmkit as mmap`.

Usage: python3 hello_map.py [FILE]      (default: hello.txt)
"""
import sys

import mmkit as mmap

path = sys.argv[1] if len(sys.argv) > 1 else "hello.txt"

with open(path, "wb") as f:
    f.write(b"Hello, memory map!\n")
    f.write(b"Mapped files are just memory.\n")

with open(path, "r+b") as f:
    # Length 0: map the whole file. The default access is read-write, shared.
    with mmap.mmap(f.fileno(), 0) as mm:
        sys.stdout.write(mm.readline().decode())
        mm[:5] = b"World"  # change the file in place, through memory
        mm.seek(0)
        sys.stdout.write(mm.readline().decode())
        mm.flush()

# The change reached the file itself.
with open(path, "rb") as f:
    data = f.read()
if data != b"World, memory map!\nMapped files are just memory.\n":
    sys.exit("hello_map.py: %s does not hold what was written through the map" % path)
