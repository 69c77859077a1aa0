"""Writes the images that benches/scripts/image-memory decodes into the directory given:
small files declaring large images (every pixel zero, so they compress to little), the worst
cases of the bounded luma decoder, and a tiny one for the baseline. Standard library only."""
import struct
import sys
import zlib
from pathlib import Path

out = Path(sys.argv[1])


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png(name, side, bit_depth, colour_type, samples, interlaced=False):
    """A PNG of side x side pixels, all zero (black, transparent), compressed row by row."""
    bytes_per_pixel = samples * bit_depth // 8
    compressor = zlib.compressobj(9)
    parts = []
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    if not interlaced:
        passes = [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        width = (side - x0 + dx - 1) // dx
        height = (side - y0 + dy - 1) // dy
        if width == 0 or height == 0:
            continue
        row = bytes(1 + width * bytes_per_pixel)
        for _ in range(height):
            parts.append(compressor.compress(row))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", side, side, bit_depth, colour_type, 0, 0, 1 if interlaced else 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")
    (out / name).write_bytes(data)


def segment(marker, data):
    return bytes([0xFF, marker]) + struct.pack(">H", len(data) + 2) + data


def jpeg(name, width, height, components, progressive):
    """A JPEG of flat grey, 4:4:4, with one Huffman table pair for all components: DC has one
    code of length 1 ("0") for category 0 (a zero difference), AC one code of length 1 for end
    of block (end of band when progressive). Baseline: one interleaved scan, two bits a block.
    Progressive: a DC scan of all components and one AC scan per component, a bit a block."""
    quantisation = segment(0xDB, bytes([0]) + bytes([1] * 64))
    frame = segment(0xC2 if progressive else 0xC0, struct.pack(">BHHB", 8, height, width, components)
                    + b"".join(bytes([i + 1, 0x11, 0]) for i in range(components)))
    one_code = bytes([1] + [0] * 15) + bytes([0])
    tables = segment(0xC4, bytes([0x00]) + one_code + bytes([0x10]) + one_code)
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    every_component = bytes([components]) + b"".join(bytes([i + 1, 0x00]) for i in range(components))
    if progressive:
        scans = segment(0xDA, every_component + bytes([0, 0, 0])) + bytes(blocks * components // 8 + 1)
        for i in range(components):
            scans += segment(0xDA, bytes([1, i + 1, 0x00, 1, 63, 0])) + bytes(blocks // 8 + 1)
    else:
        scans = segment(0xDA, every_component + bytes([0, 63, 0])) + bytes(blocks * components * 2 // 8 + 1)
    (out / name).write_bytes(b"\xFF\xD8" + quantisation + frame + tables + scans + b"\xFF\xD9")


png("baseline.png", 64, 8, 0, 1)
png("rgba16.png", 8192, 16, 6, 4)
png("rgba8.png", 8192, 8, 6, 4)
png("grey-adam7.png", 8192, 8, 0, 1, interlaced=True)
png("oversize.png", 8193, 8, 0, 1)
jpeg("ycbcr.jpg", 8192, 8192, 3, progressive=False)
jpeg("progressive-12mp.jpg", 4000, 3000, 3, progressive=True)
jpeg("progressive-8192.jpg", 8192, 8192, 3, progressive=True)
