#!/usr/bin/env python3
"""Writes the embedded Fashion-MNIST subset shipped in src/main/resources/fashion-mnist-subset/.

Source: Debian's `dataset-fashion-mnist` package (`apt-get install dataset-fashion-mnist`), which installs Zalando's
original IDX files in /usr/share/datasets/fashion-mnist (MIT licence, Copyright 2017 Zalando SE).

The subset keeps the first PER_CLASS_TRAIN images of each class from the training split and the first PER_CLASS_TEST
of each class from the test split, in their original file order, so it is class-balanced and contains real images only.
The output uses the same IDX format, gzipped with a zero timestamp so that re-running the script gives identical bytes.

Usage: python3 scripts/make-fashion-mnist-subset.py [SOURCE_DIR [OUT_DIR]]
"""
import gzip
import struct
import sys
from pathlib import Path

PER_CLASS_TRAIN = 600
PER_CLASS_TEST = 100
NUM_CLASSES = 10


def read_idx(path, magic):
    with gzip.open(path, "rb") as f:
        data = f.read()
    rank = magic & 0xFF
    header = struct.unpack(">" + "i" * (rank + 1), data[: 4 * (rank + 1)])
    if header[0] != magic:
        sys.exit(f"{path}: magic {header[0]} is not {magic}")
    return list(header[1:]), data[4 * (rank + 1):]


def write_idx(path, magic, dims, payload):
    header = struct.pack(">" + "i" * (len(dims) + 1), magic, *dims)
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
        f.write(header + payload)


def subset(src, out, split, per_class):
    (n, rows, cols), pixels = read_idx(src / f"{split}-images-idx3-ubyte.gz", 0x0803)
    (n_labels,), labels = read_idx(src / f"{split}-labels-idx1-ubyte.gz", 0x0801)
    if n != n_labels:
        sys.exit(f"{split}: {n} images but {n_labels} labels")
    size = rows * cols
    counts = [0] * NUM_CLASSES
    keep = []
    for i, label in enumerate(labels):
        if counts[label] < per_class:
            counts[label] += 1
            keep.append(i)
    if min(counts) < per_class:
        sys.exit(f"{split}: only {counts} examples per class")
    write_idx(out / f"{split}-images-idx3-ubyte.gz", 0x0803, [len(keep), rows, cols],
              b"".join(pixels[i * size:(i + 1) * size] for i in keep))
    write_idx(out / f"{split}-labels-idx1-ubyte.gz", 0x0801, [len(keep)], bytes(labels[i] for i in keep))
    print(f"{split}: kept {len(keep)} of {n} examples ({per_class} per class)")


def main():
    here = Path(__file__).resolve().parent
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/usr/share/datasets/fashion-mnist")
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else here.parent / "src/main/resources/fashion-mnist-subset"
    out.mkdir(parents=True, exist_ok=True)
    subset(src, out, "train", PER_CLASS_TRAIN)
    subset(src, out, "t10k", PER_CLASS_TEST)


if __name__ == "__main__":
    main()
