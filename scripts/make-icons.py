#!/usr/bin/env python3
"""Draws Signet's tray state icons and app icon into icons/ (standard library only: no ImageMagick/PIL).

Each tray icon is a coloured disc with a dark rim and a white symbol, so it reads on light and dark panels
at 16–24 px: signed in (green, check), expiring (amber, clock), sign-in needed (slate, key), error (red, !).
The app icon is also drawn at the hicolor sizes (icons/hicolor/, installed by the packages).
Run from the repository root: `python3 scripts/make-icons.py`. The output is committed.
"""
import math
import struct
import zlib
from pathlib import Path

SS = 4  # supersampling per axis


def seg_dist(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy or 1e-9)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def symbol_hit(kind, x, y):
    w = 0.075  # half stroke width, in units of the icon size
    def poly(points):
        return any(seg_dist(x, y, *points[i], *points[i + 1]) <= w for i in range(len(points) - 1))
    if kind == "signed-in":
        return poly([(0.29, 0.52), (0.44, 0.67), (0.72, 0.36)])
    if kind == "expiring":
        ring = abs(math.hypot(x - 0.5, y - 0.5) - 0.25) <= w * 0.8
        return ring or poly([(0.5, 0.5), (0.5, 0.33)]) or poly([(0.5, 0.5), (0.62, 0.57)])
    if kind == "sign-in":
        ring = abs(math.hypot(x - 0.38, y - 0.40) - 0.12) <= w * 0.85
        return ring or poly([(0.47, 0.49), (0.72, 0.74)]) or poly([(0.62, 0.64), (0.69, 0.57)])
    if kind == "error":
        return poly([(0.5, 0.26), (0.5, 0.56)]) or math.hypot(x - 0.5, y - 0.73) <= w * 1.15
    raise ValueError(kind)


COLOURS = {
    "signed-in": (46, 160, 67),
    "expiring": (214, 140, 0),
    "sign-in": (96, 110, 128),
    "error": (207, 34, 46),
}
RIM = (24, 28, 34)
WHITE = (255, 255, 255)


def draw(kind, size):
    fill = COLOURS[kind]
    rows = []
    for py in range(size):
        row = bytearray()
        for px in range(size):
            acc = [0.0, 0.0, 0.0, 0.0]
            for sy in range(SS):
                for sx in range(SS):
                    x = (px + (sx + 0.5) / SS) / size
                    y = (py + (sy + 0.5) / SS) / size
                    r = math.hypot(x - 0.5, y - 0.5)
                    if r > 0.47:
                        continue
                    if r > 0.41:
                        c = RIM
                    elif symbol_hit(kind, x, y):
                        c = WHITE
                    else:
                        c = fill
                    acc[0] += c[0]; acc[1] += c[1]; acc[2] += c[2]; acc[3] += 255
            n = SS * SS
            a = acc[3] / n
            if a == 0:
                row += bytes(4)
            else:
                row += bytes([round(acc[0] / (acc[3] / 255)), round(acc[1] / (acc[3] / 255)),
                              round(acc[2] / (acc[3] / 255)), round(a)])
        rows.append(bytes(row))
    return rows


def png(rows, size):
    raw = b"".join(b"\x00" + r for r in rows)
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    out = Path(__file__).resolve().parent.parent / "icons"
    out.mkdir(exist_ok=True)
    for kind in COLOURS:
        (out / f"tray-{kind}.png").write_bytes(png(draw(kind, 32), 32))
    (out / "icon.png").write_bytes(png(draw("signed-in", 256), 256))
    # The app icon at the sizes desktops look up in the hicolor theme (the packages install this tree).
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        apps = out / "hicolor" / f"{size}x{size}" / "apps"
        apps.mkdir(parents=True, exist_ok=True)
        (apps / "dev.signet.Signet.png").write_bytes(png(draw("signed-in", size), size))


if __name__ == "__main__":
    main()
