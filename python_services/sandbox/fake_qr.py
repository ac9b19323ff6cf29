"""A QR-code-looking PNG for GET /instance/connect/{instance}: the three
finder squares of a real QR code and a pattern seeded by the instance name.
It encodes nothing (no phone can scan it); it lets the console's pairing
page be tried and tested without WhatsApp. A valid PNG, made with the
standard library only."""
from __future__ import annotations

import base64
import hashlib
import struct
import zlib

MODULES = 25  # a version-2 QR code is 25 x 25 modules
SCALE = 6     # pixels per module
QUIET = 4     # the white border a scanner needs, in modules


def _finder(row: int, col: int) -> bool | None:
    """Black or white inside one of the three 7x7 corner squares; None outside them."""
    for top, left in ((0, 0), (0, MODULES - 7), (MODULES - 7, 0)):
        r, c = row - top, col - left
        if 0 <= r < 7 and 0 <= c < 7:
            ring = max(abs(r - 3), abs(c - 3))
            return ring != 2  # black outer ring, white ring, black 3x3 centre
        if -1 <= r <= 7 and -1 <= c <= 7:
            return False  # the white separator around a square
    return None


def modules(seed: str) -> list[list[bool]]:
    bits = hashlib.sha256(seed.encode()).digest() * 3  # 768 bits: enough for 25 x 25
    grid = []
    for row in range(MODULES):
        line = []
        for col in range(MODULES):
            fixed = _finder(row, col)
            n = row * MODULES + col
            line.append(fixed if fixed is not None else bool(bits[n // 8] >> (n % 8) & 1))
        grid.append(line)
    return grid


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(seed: str) -> bytes:
    """An 8-bit greyscale PNG of the pattern (black modules on white)."""
    grid = modules(seed)
    side = (MODULES + 2 * QUIET) * SCALE
    rows = []
    for y in range(side):
        row = y // SCALE - QUIET
        pixels = bytearray(b"\xff" * side)
        if 0 <= row < MODULES:
            for col, black in enumerate(grid[row]):
                if black:
                    start = (col + QUIET) * SCALE
                    pixels[start:start + SCALE] = b"\x00" * SCALE
        rows.append(b"\x00" + bytes(pixels))  # filter type 0 (none) per row
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + _chunk(b"IEND", b""))


def data_url(seed: str) -> str:
    return "data:image/png;base64," + base64.b64encode(png(seed)).decode("ascii")
