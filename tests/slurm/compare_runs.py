#!/usr/bin/env python3
"""Compares what two lrnn runs or sweeps computed, for the Slurm tests (tests/slurm/).

  compare_runs.py sweep A B      every row of A/sweep.csv is in B/sweep.csv (by name) with the same
                                 values in every column but wall_time_s, rank and reused; and each
                                 run of A holds the same numbers as B's (as `run` below)
  compare_runs.py run A B [--rtol R]
                                 final.h5 and best.h5: every dataset of /params, /fixed and
                                 /optimizer, and the step attributes, equal bit for bit (or to a
                                 relative R); metrics.jsonl equal but for step_time_s (exactly,
                                 or every number to R)

Exit 0 when equal, 1 with the differences listed.
"""
import csv
import json
import math
import sys

import h5py
import numpy as np

IGNORED_COLUMNS = {"wall_time_s", "rank", "reused"}


def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = np.array(obj[()])
        f.visititems(visit)
        for key in ("step", "best_step", "seed"):
            if key in f.attrs:
                out["@" + key] = np.array(f.attrs[key])
    return out


def close(a, b, rtol):
    if rtol == 0:
        return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
    a, b = a.astype(np.float64), b.astype(np.float64)
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0), 1e-300)
    return a.shape == b.shape and np.max(np.abs(a - b), initial=0.0) <= rtol * scale


def metrics(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                row.pop("step_time_s", None)
                rows.append(row)
    return rows


def compare_run(a, b, rtol, problems):
    for name in ("final.h5", "best.h5"):
        da, db = datasets(f"{a}/{name}"), datasets(f"{b}/{name}")
        if sorted(da) != sorted(db):
            problems.append(f"{a}/{name} vs {b}/{name}: datasets {sorted(da)} vs {sorted(db)}")
            continue
        for key in da:
            if not close(da[key], db[key], rtol):
                problems.append(f"{a}/{name} vs {b}/{name}: {key} differs")
    ma, mb = metrics(f"{a}/metrics.jsonl"), metrics(f"{b}/metrics.jsonl")
    if len(ma) != len(mb):
        problems.append(f"{a} vs {b}: {len(ma)} vs {len(mb)} lines in metrics.jsonl")
        return
    for i, (ra, rb) in enumerate(zip(ma, mb)):
        if rtol == 0:
            same = ra == rb
        else:
            same = ra.keys() == rb.keys() and all(
                close(np.array(ra[k], dtype=float), np.array(rb[k], dtype=float), rtol)
                if isinstance(ra[k], (int, float)) else ra[k] == rb[k] for k in ra)
        if not same:
            problems.append(f"{a}/metrics.jsonl line {i + 1}: {ra} vs {rb}")
            break


def compare_sweep(a, b, problems):
    def rows(d):
        with open(f"{d}/sweep.csv", newline="") as f:
            return {r["name"]: r for r in csv.DictReader(f)}
    ra, rb = rows(a), rows(b)
    for name, row in ra.items():
        other = rb.get(name)
        if other is None:
            problems.append(f"{b}/sweep.csv has no row {name}")
            continue
        for col in row:
            if col not in IGNORED_COLUMNS and row[col] != other.get(col):
                problems.append(f"{name}: {col} = {row[col]!r} in {a} vs {other.get(col)!r} in {b}")
        if row["status"] == "ok":
            compare_run(f"{a}/{name}", f"{b}/{name}", 0.0, problems)
    print(f"compared {len(ra)} rows of {a}/sweep.csv with {b}/sweep.csv")


def main(argv):
    if len(argv) < 4 or argv[1] not in ("sweep", "run"):
        print(__doc__, file=sys.stderr)
        return 2
    problems = []
    if argv[1] == "sweep":
        compare_sweep(argv[2], argv[3], problems)
    else:
        rtol = float(argv[5]) if len(argv) > 5 and argv[4] == "--rtol" else 0.0
        compare_run(argv[2], argv[3], rtol, problems)
    for p in problems:
        print("DIFFERENT: " + p)
    if not problems:
        print("equal" + ("" if argv[1] == "sweep" else f" ({argv[2]} and {argv[3]})"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
