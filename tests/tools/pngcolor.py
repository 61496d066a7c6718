#!/usr/bin/env python3
"""pngcolor.py FILE R,G,B [R,G,B...]: prints the image's width, height and,
for each colour, how many pixels have it (within 8 per channel). A small
PNG reader (8-bit RGB/RGBA, all five row filters) so the screenshot test
needs nothing beyond Python."""
import struct, sys, zlib
from collections import Counter
from itertools import accumulate

def read(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), "only 8-bit RGB or RGBA"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    # bytewise (a + b) & 255 of whole rows at once, as big integers: the
    # low 7 bits of each byte cannot carry into the next byte
    low = int.from_bytes(b"\x7f" * stride, "big")
    high = int.from_bytes(b"\x80" * stride, "big")
    def add(a, b):
        x, y = int.from_bytes(a, "big"), int.from_bytes(b, "big")
        return (((x & low) + (y & low)) ^ ((x ^ y) & high)).to_bytes(stride, "big")
    rows, prev, i = [], bytes(stride), 0
    for _ in range(h):
        f, line = raw[i], raw[i + 1:i + 1 + stride]
        i += 1 + stride
        if f == 1:
            out = bytearray(stride)
            for k in range(bpp):
                out[k::bpp] = bytes(v & 255 for v in accumulate(line[k::bpp]))
            line = bytes(out)
        elif f == 2:
            line = add(line, prev)
        elif f in (3, 4):
            line = bytearray(line)
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b, c = prev[x], prev[x - bpp] if x >= bpp else 0
                if f == 3: line[x] = (line[x] + (a + b) // 2) & 255
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            line = bytes(line)
        rows.append(line)
        prev = line
    return w, h, bpp, rows

w, h, bpp, rows = read(sys.argv[1])
want = [tuple(int(v) for v in c.split(",")) for c in sys.argv[2:]]
# a screenshot has few distinct rows and colours: count those, then match
colours = Counter()
for line, n in Counter(rows).items():
    for px, m in Counter(zip(line[0::bpp], line[1::bpp], line[2::bpp])).items():
        colours[px] += n * m
counts = [0] * len(want)
for px, n in colours.items():
    for k, c in enumerate(want):
        if all(abs(px[j] - c[j]) <= 8 for j in range(3)):
            counts[k] += n
print(w, h, *counts)
