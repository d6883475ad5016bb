"""image_invert.py -- image processing in place through a memory map.

Map a binary greyscale PGM image (P5) read-write, find where the pixels
start, replace every pixel p by maxval - p in the mapped memory, flush, and
check the file with ordinary reads.

Usage: python3 image_invert.py --create FILE WIDTH HEIGHT   write a test gradient
       python3 image_invert.py FILE                          invert FILE in place
Pixel (x, y) of the test gradient is (x + 2y) mod 256.
"""
import re
import sys

import mmkit as mmap

# Magic, width, height, maxval, separated by whitespace and '#' comments, then
# exactly one whitespace byte before the pixels.
HEADER = re.compile(rb"P5(?:\s|#[^\n]*\n)+(\d+)(?:\s|#[^\n]*\n)+(\d+)(?:\s|#[^\n]*\n)+(\d+)\s")


def create_gradient(path, width, height):
    with open(path, "wb") as f:
        f.write(b"P5\n# mmkit example gradient\n%d %d\n255\n" % (width, height))
        f.write(bytes((x + 2 * y) & 255 for y in range(height) for x in range(width)))
    print("%s: %dx%d test gradient written" % (path, width, height))


def invert_file(path):
    with open(path, "r+b") as f, mmap.mmap(f.fileno(), 0) as mm:
        header = HEADER.match(mm, 0, 512)
        if not header or not 1 <= int(header.group(3)) <= 255:
            sys.exit("image_invert.py: %s: not an 8-bit binary PGM (P5) image" % path)
        width, height, maxval = (int(g) for g in header.groups())
        start, count = header.end(), width * height
        if start + count > len(mm):
            sys.exit("image_invert.py: %s: image data is cut short" % path)

        before = mm[start : start + count]
        # One table lookup per pixel, written straight back into the map.
        table = bytes(maxval - p if p <= maxval else 0 for p in range(256))
        mm[start : start + count] = before.translate(table)
        mm.flush()
    print("%s: %dx%d, maxval %d: inverted %d pixels in place" % (path, width, height, maxval, count))

    with open(path, "rb") as f:
        f.seek(start)
        after = f.read(count)
    if after != bytes(max(maxval - p, 0) for p in before):
        sys.exit("image_invert.py: %s: the file does not hold the inverted image" % path)
    print("verified: the file holds the inverted image")


if len(sys.argv) == 5 and sys.argv[1] == "--create":
    create_gradient(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
elif len(sys.argv) == 2 and not sys.argv[1].startswith("-"):
    invert_file(sys.argv[1])
else:
    sys.exit(__doc__)
