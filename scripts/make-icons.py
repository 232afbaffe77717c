#!/usr/bin/env python3
"""Draws DG-LAB Hub's icon set into icons/ with the standard library only (zlib + struct).

A dark rounded square with a pulse line that fades from cyan (channel A) to pink (channel B).
Shapes are signed-distance functions with analytic anti-aliasing, so every size is drawn
sharp at its own resolution instead of being scaled down from one bitmap.
Tauri embeds icons/icon.png at compile time and needs RGBA PNGs, hence the colour type 6.
"""
import math
import os
import struct
import sys
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "icons")

BG_TOP = (38, 42, 66)
BG_BOTTOM = (18, 20, 32)
LINE_A = (62, 224, 208)
LINE_B = (255, 79, 154)
# The pulse, in unit coordinates of the square: rest, a sharp rise, a dip, settle, rest.
PULSE = [(0.16, 0.56), (0.34, 0.56), (0.43, 0.27), (0.53, 0.76), (0.61, 0.45),
         (0.67, 0.56), (0.84, 0.56)]
STROKE = 0.072
CORNER = 0.22
MARGIN = 0.04


def clamp(x, lo=0.0, hi=1.0):
    return lo if x < lo else hi if x > hi else x


def rounded_square_sd(x, y, half, r):
    """Signed distance to a square of half-size `half` centred at 0 with corner radius r."""
    qx, qy = abs(x) - half + r, abs(y) - half + r
    outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
    return outside + min(max(qx, qy), 0.0) - r


def segment_distance(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = clamp(((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy))
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


def render(size):
    px_unit = 1.0 / size  # one pixel in unit coordinates, the width of the AA ramp
    half = 0.5 - MARGIN
    rows = []
    for j in range(size):
        row = bytearray()
        y = (j + 0.5) / size
        for i in range(size):
            x = (i + 0.5) / size
            sd = rounded_square_sd(x - 0.5, y - 0.5, half, CORNER)
            a_bg = clamp(0.5 - sd / px_unit)
            if a_bg <= 0.0:
                row += b"\0\0\0\0"
                continue
            t = clamp((y - MARGIN) / (1 - 2 * MARGIN))
            col = [BG_TOP[k] * (1 - t) + BG_BOTTOM[k] * t for k in range(3)]
            d = min(segment_distance(x, y, *PULSE[k], *PULSE[k + 1]) for k in range(len(PULSE) - 1))
            a_line = clamp(0.5 - (d - STROKE / 2) / px_unit)
            if a_line > 0.0:
                u = clamp((x - PULSE[0][0]) / (PULSE[-1][0] - PULSE[0][0]))
                lc = [LINE_A[k] * (1 - u) + LINE_B[k] * u for k in range(3)]
                col = [col[k] * (1 - a_line) + lc[k] * a_line for k in range(3)]
            row += bytes((round(col[0]), round(col[1]), round(col[2]), round(255 * a_bg)))
        rows.append(bytes(row))
    return rows


def png(rows, size):
    raw = b"".join(b"\0" + r for r in rows)  # filter type 0 on every row

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def ico(pngs):
    """An ICO holding PNG images (allowed since Windows Vista), sizes ascending."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = 6 + 16 * len(pngs)
    entries, blobs = b"", b""
    for size, data in pngs:
        dim = 0 if size >= 256 else size  # 0 means 256 in an ICO directory entry
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
        blobs += data
    return header + entries + blobs


def main():
    os.makedirs(OUT, exist_ok=True)
    cache = {}

    def get(size):
        if size not in cache:
            cache[size] = png(render(size), size)
        return cache[size]

    # The hicolor theme's sizes, each drawn at its own resolution. The Debian bundler installs
    # every PNG listed in tauri.conf.json as /usr/share/icons/hicolor/<w>x<h>/apps/dglab-hub.png;
    # no "@2x" names, which it would put in a folder the icon theme does not have (256x256@2).
    files = {"16x16.png": 16, "32x32.png": 32, "48x48.png": 48, "64x64.png": 64,
             "128x128.png": 128, "256x256.png": 256, "icon.png": 512}
    for name, size in files.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(get(size))
    with open(os.path.join(OUT, "icon.ico"), "wb") as f:
        f.write(ico([(s, get(s)) for s in (16, 32, 48, 256)]))
    print("icons written to", os.path.normpath(OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
