#!/usr/bin/env python3
"""The table of a bench/compare_pytorch_cpu.sh run: per net and rule, the median images/s over its repetitions
of bioprop, PyTorch as installed and PyTorch keeping its freed memory, their ratios, and the median peak
resident MiB of each. Medians, because on a shared virtual machine one repetition of a row can run at half speed
when a neighbour is busy; the repetitions alternate between the frameworks, so a slow spell hits both alike.

Usage: cpu_comparison_table.py PREFIX   (PREFIX-rep*-{bioprop,pytorch,pytorch-retained-heap}.csv)
Writes the markdown table to stdout."""
import csv
import glob
import statistics
import sys


def rows(path):
    with open(path, newline="") as f:
        return {(r["rule"], r["net"]): r for r in csv.DictReader(f)}


def main(prefix):
    kinds = ["bioprop", "pytorch", "pytorch-retained-heap"]
    repetitions = sorted(glob.glob(f"{prefix}-rep*-bioprop.csv"))
    if not repetitions:
        sys.exit(f"no {prefix}-rep*-bioprop.csv")
    runs = [{kind: rows(path.replace("-bioprop.csv", f"-{kind}.csv")) for kind in kinds} for path in repetitions]
    print(f"{len(runs)} repetitions; medians. images/s bioprop / PyTorch (ratio); peak resident MiB bioprop / "
          "PyTorch as installed / PyTorch keeping its memory")
    print()
    print("| net (batch) | rule | vs PyTorch as installed | vs PyTorch keeping its memory | peak resident MiB |")
    print("| --- | --- | --- | --- | --- |")
    for key, first in runs[0]["bioprop"].items():
        speed = {k: statistics.median(float(r[k][key]["images_per_second"]) for r in runs) for k in kinds}
        memory = {k: statistics.median(float(r[k][key]["peak_resident_mib"]) for r in runs) for k in kinds}
        b, p, q = speed["bioprop"], speed["pytorch"], speed["pytorch-retained-heap"]
        rule, net = key
        print(f"| {net} ({first['batch']}) | {rule} | {b:.0f} / {p:.0f} ({b / p:.2f}x) | {b:.0f} / {q:.0f} "
              f"({b / q:.2f}x) | {memory['bioprop']:.0f} / {memory['pytorch']:.0f} / "
              f"{memory['pytorch-retained-heap']:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1])
