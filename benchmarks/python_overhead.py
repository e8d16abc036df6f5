#!/usr/bin/env python3
"""The cost of lrnn's Python API against the C++ it calls (issue 15's speed targets).

    PYTHONPATH=build/python python3 benchmarks/python_overhead.py CKPT.h5 [--eval build/apps/lrnn-eval]

1. Network.simulate recording y and kappa on the checkpoint's 2000 test trials (lrnn.trials, the
   generator lrnn-eval uses), against the simulation phase of `lrnn-eval CKPT --no-figures` on
   the same trials (simulate_s of its metrics.json); target: ratio <= 1.2.
2. The overhead of a call: a 1-trial, 10-step simulate, its Python wall time minus the time of
   the C++ work inside it (Network.last_call_s); target: < 20 us (median of many calls).
Both run with the same thread count (--threads, default all cores). Report `uptime` with them:
the numbers mean little on a busy machine.
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np

import lrnn


def eval_simulate_s(eval_exe, ckpt, threads):
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([eval_exe, ckpt, "--no-figures", "--trials", "2000", "--threads",
                        str(threads), "--out", out], check=True, capture_output=True)
        with open(os.path.join(out, "metrics.json")) as f:
            return json.load(f)["simulate_s"]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--eval", default=os.path.join(here, "..", "build", "apps", "lrnn-eval"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--calls", type=int, default=5000)
    args = ap.parse_args()

    net = lrnn.Network.from_checkpoint(args.checkpoint)
    trials = lrnn.trials(net.config, split="test", n=2000)
    u = trials["u"]
    print(f"checkpoint {args.checkpoint}: N = {net.N}, precision {net.precision}, "
          f"integrator {net.config.to_dict()['integrator']['method']}, u {u.shape} {u.dtype}, "
          f"{args.threads} threads")

    py_s, cpp_s, eval_s = [], [], []
    for _ in range(args.repeats):  # interleaved, so that a change of load hits both alike
        eval_s.append(eval_simulate_s(args.eval, args.checkpoint, args.threads))
        t0 = time.perf_counter()
        net.simulate(u, record=("y", "kappa"), threads=args.threads)
        py_s.append(time.perf_counter() - t0)
        cpp_s.append(net.last_call_s)
    print(f"simulate 2000 trials, y and kappa: Python {min(py_s):.3f} s (C++ part "
          f"{min(cpp_s):.3f} s); lrnn-eval's simulation phase {min(eval_s):.3f} s; "
          f"ratio {min(py_s) / min(eval_s):.3f} (target <= 1.2; best of {args.repeats})")

    # dt = T / 10 gives 10 steps per trial; the window must fit, so T_avg <= T.
    T = net.config.to_dict()["task"]["T_avg"]
    u1 = np.random.default_rng(0).normal(0, 1, (1, 10, net.d_in))
    net.simulate(u1, dt=T / 10, threads=1)
    overhead = []
    for _ in range(args.calls):
        t0 = time.perf_counter()
        net.simulate(u1, dt=T / 10, threads=1)
        overhead.append(time.perf_counter() - t0 - net.last_call_s)
    print(f"1 trial, 10 steps: overhead (Python time - C++ time) median "
          f"{statistics.median(overhead) * 1e6:.1f} us, 10th percentile "
          f"{np.percentile(overhead, 10) * 1e6:.1f} us over {args.calls} calls (target < 20 us)")
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
