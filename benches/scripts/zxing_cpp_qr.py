"""zxing-cpp (PyPI zxing-cpp, the C++ reference QR decoder) on the camera frames of the QR
benchmark (benches/benches/qr.rs), which runs this with the test tools' Python.

Reads a JSON list of frames ({"file", "expected", "further": [files]}); prints a JSON list
with, for each frame, whether zxing-cpp read the expected text in one pass on the frame
("single", its time in ms "single_ms") and when also given the further passes' images in
order ("passes", the time of all passes tried in ms "passes_ms"). Each image is decoded to
luma before its timing starts; zxing-cpp gets its defaults but for the format (QR only).
"""
import json
import sys
import time

import numpy
import zxingcpp
from PIL import Image


def luma(path):
    with Image.open(path) as image:
        return numpy.asarray(image.convert("L"))


def read(pixels, expected):
    start = time.perf_counter()
    barcodes = zxingcpp.read_barcodes(pixels, formats=zxingcpp.BarcodeFormat.QRCode)
    elapsed = (time.perf_counter() - start) * 1e3
    return any(b.text == expected for b in barcodes), elapsed


def main():
    frames = json.load(open(sys.argv[1], encoding="utf-8"))
    results = []
    for frame in frames:
        single, single_ms = read(luma(frame["file"]), frame["expected"])
        passes, passes_ms = single, single_ms
        for further in frame["further"]:
            if passes:
                break
            passes, elapsed = read(luma(further), frame["expected"])
            passes_ms += elapsed
        results.append(
            {"single": single, "single_ms": single_ms, "passes": passes, "passes_ms": passes_ms}
        )
    json.dump(results, sys.stdout)


main()
