#!/usr/bin/env python3
"""The ideal observer of the contextual switch task on the trials of an eval.h5, and how close a
network's gating comes to it.

The ideal observer knows the context and chooses the sign of the relevant stimulus's
time-integrated evidence, sum_k u_c(t_k) dt over the trial (the stimulus channels are 0 before
T_burn). With Gaussian input noise that is independent across noise_dt intervals, this sum is the
sufficient statistic for the stimulus's sign, so no observer of the inputs does better.

    ideal_observer.py EVAL.h5 [EVAL.h5 ...] [--json]

Prints, per file: the network's accuracy and the ideal observer's on the same trials, overall and
per context, and from the metrics.json beside the file (lrnn-eval writes both) the logistic slopes
of the choice against the relevant and the irrelevant stimulus in each context and their ratio.
A network "gates" a context when the irrelevant slope is at most 10 % of the relevant one.
Needs numpy and h5py (Debian's python3-numpy, python3-h5py). Exit codes: 0 done, 2 bad input.
"""

import argparse
import json
import os
import sys

import h5py
import numpy as np

GATE_RATIO = 0.10  # irrelevant slope / relevant slope at or below which a context is gated


def analyse(path):
    try:
        with h5py.File(path, "r") as f:
            t = f["trials"]
            u = np.asarray(t["u"], dtype=np.float64)        # trials x K x d_in
            label = np.asarray(t["label"], dtype=np.float64)
            ctx = np.asarray(t["context"], dtype=np.int64)
            label_type = f.attrs.get("label_type", b"pm1")
    except (OSError, KeyError) as e:
        raise SystemExit(f"ideal_observer.py: {path}: not an lrnn eval.h5 ({e})")
    if isinstance(label_type, bytes):
        label_type = label_type.decode()
    if np.any((ctx != 1) & (ctx != 2)):
        raise SystemExit(f"ideal_observer.py: {path}: trials without a context (1 or 2)")
    target = np.where(label > (0.5 if label_type == "binary" else 0.0), 1.0, -1.0)
    evidence = u[np.arange(len(ctx)), :, ctx - 1].sum(axis=1)
    ideal = np.where(evidence > 0, 1.0, -1.0) == target
    out = {"file": path, "n_trials": int(len(ctx)), "ideal_accuracy": float(ideal.mean()),
           "ideal_accuracy_ctx": [float(ideal[ctx == c].mean()) for c in (1, 2)]}
    metrics_path = os.path.join(os.path.dirname(path), "metrics.json")
    try:
        with open(metrics_path) as f:
            m = json.load(f)
    except (OSError, ValueError):
        m = None
    if m is not None:
        out["accuracy"] = m["accuracy"]
        out["accuracy_ctx"] = [m["accuracy_ctx1"], m["accuracy_ctx2"]]
        slopes = {(c["context"], c["relevant"]): c["slope"] for c in m.get("psychometric", [])}
        ratios = []
        for c in (1, 2):
            rel, irr = slopes.get((c, True)), slopes.get((c, False))
            ratios.append(None if rel in (None, 0) or irr is None else abs(irr) / abs(rel))
        out["slope_ratio_ctx"] = ratios
        out["gated"] = all(r is not None and r <= GATE_RATIO for r in ratios)
        out["within_0.05_of_ideal"] = out["accuracy"] >= out["ideal_accuracy"] - 0.05
    return out


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", help="eval.h5 files written by lrnn-eval")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = p.parse_args(argv)
    results = [analyse(f) for f in args.files]
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    for r in results:
        line = (f"{r['file']}: ideal observer {r['ideal_accuracy']:.4f} "
                f"(ctx 1 {r['ideal_accuracy_ctx'][0]:.4f}, ctx 2 {r['ideal_accuracy_ctx'][1]:.4f})")
        if "accuracy" in r:
            ratios = ", ".join("-" if x is None else f"{x:.3f}" for x in r["slope_ratio_ctx"])
            line += (f"; network {r['accuracy']:.4f}; irrelevant/relevant slope {ratios}; "
                     f"{'gated' if r['gated'] else 'NOT gated'}")
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
