#!/usr/bin/env python3
"""pngcolor.py FILE R,G,B [R,G,B...]: prints the image's width, height and,
for each colour, how many pixels have it (within 8 per channel). A small
PNG reader (8-bit RGB/RGBA, all five row filters) so the screenshot test
needs nothing beyond Python."""
import struct, sys, zlib

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
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows

w, h, bpp, rows = read(sys.argv[1])
want = [tuple(int(v) for v in c.split(",")) for c in sys.argv[2:]]
counts = [0] * len(want)
for line in rows:
    for x in range(0, len(line), bpp):
        px = line[x], line[x + 1], line[x + 2]
        for k, c in enumerate(want):
            if all(abs(px[j] - c[j]) <= 8 for j in range(3)):
                counts[k] += 1
print(w, h, *counts)
