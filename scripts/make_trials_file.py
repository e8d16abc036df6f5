#!/usr/bin/env python3
"""Write a trials file of the contextual switch task from NumPy, to show the layout lrnn reads.

Train on it with

    lrnn-train CONFIG.yaml --set task.trials_file=trials.h5

A trials file is HDF5 with these datasets at the root (or under the group /trials, as in an
eval.h5 written by lrnn-eval); h5py shapes, C (row-major) order:

    /u          float (float32 halves lrnn's memory), trials x K x d_in: u[j, k, :] is the input
                of trial j on [k dt, (k+1) dt) of the config's integrator.dt grid, k = 0 .. K-1.
                K dt is the trial length T; the loss averages the readout over the last
                task.T_avg of it.
    /label      trials: the target, -1/+1 (task.label_type: pm1) or 0/1 (binary)
    /context    optional, integer, trials: 1 or 2 (0 = unknown); for per-context accuracy
    /coherence  optional, float, trials x 2: signed strength of stimulus 1 and 2; with /context
                it groups trials into balanced batches and psychometric curves
    /split      optional, integer, trials: 0 train, 1 validation, 2 test. Without it lrnn
                validates on the last training.n_val_trials trials and trains on the others.

lrnn takes rnn.d_in from /u, and K from /u with the config's integrator.dt as the step, so
T_burn and T_stim in the config do not apply. Channels here follow lrnn's generator: 0, 1 the
stimuli (0 before T_burn), 2, 3 the context cues.
"""

import argparse
import sys

import h5py
import numpy as np


def parse_args(argv):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("output", help="HDF5 file to write, e.g. trials.h5")
    p.add_argument("--trials", type=int, default=1000, help="number of trials (default 1000)")
    p.add_argument("--dt", type=float, default=0.1,
                   help="step of the grid; must equal integrator.dt of the config (default 0.1)")
    p.add_argument("--T-burn", type=float, default=15.0, help="cue-only period (default 15)")
    p.add_argument("--T-stim", type=float, default=85.0, help="stimulus period (default 85)")
    p.add_argument("--stim", type=float, default=1.2, help="|stimulus| (default 1.2)")
    p.add_argument("--coherences", type=str, default="",
                   help="comma-separated |stimulus| values drawn per trial, e.g. 0.1,0.4,1.2 "
                        "(default: --stim for every trial)")
    p.add_argument("--stim-std", type=float, default=0.0,
                   help="std of a per-trial offset of each stimulus (default 0)")
    p.add_argument("--noise-std", type=float, default=0.0,
                   help="std of input noise held for --noise-dt (default 0)")
    p.add_argument("--noise-dt", type=float, default=1.0, help="noise hold time (default 1)")
    p.add_argument("--gamma-on", type=float, default=0.08, help="active cue (default 0.08)")
    p.add_argument("--gamma-off", type=float, default=-0.14, help="inactive cue (default -0.14)")
    p.add_argument("--label-type", choices=["pm1", "binary"], default="pm1",
                   help="-1/+1 or 0/1 labels; must match task.label_type (default pm1)")
    p.add_argument("--split", type=str, default="",
                   help="write /split: TRAIN,VAL,TEST counts summing to --trials, e.g. 800,100,100 "
                        "(default: no /split)")
    p.add_argument("--float32", action="store_true", help="store /u as float32")
    p.add_argument("--seed", type=int, default=0, help="NumPy seed (default 0)")
    return p.parse_args(argv)


def whole_steps(x, dt, name):
    k = round(x / dt)
    if abs(x / dt - k) > 1e-9 * max(1.0, abs(x / dt)):
        sys.exit(f"make_trials_file.py: {name} = {x} is not a whole number of steps of --dt {dt}")
    return k


def main(argv=None):
    a = parse_args(argv)
    if a.trials < 1:
        sys.exit("make_trials_file.py: --trials must be >= 1")
    rng = np.random.default_rng(a.seed)
    n = a.trials
    K = whole_steps(a.T_burn + a.T_stim, a.dt, "T_burn + T_stim")
    k_burn = whole_steps(a.T_burn, a.dt, "T_burn")
    noise_steps = whole_steps(a.noise_dt, a.dt, "--noise-dt")

    context = rng.integers(1, 3, size=n)                 # 1 or 2
    sign = rng.choice([-1.0, 1.0], size=(n, 2))          # σ1, σ2
    levels = [float(c) for c in a.coherences.split(",") if c] or [a.stim]
    strength = rng.choice(levels, size=(n, 2))           # a1, a2
    coherence = sign * strength                          # n x 2, signed
    offset = a.stim_std * rng.standard_normal((n, 2))

    u = np.zeros((n, K, 4))
    stim = coherence + offset                            # n x 2, held from T_burn on
    u[:, k_burn:, 0:2] = stim[:, None, :]
    if a.noise_std > 0:
        n_hold = -(-(K - k_burn) // noise_steps)         # noise intervals after onset
        xi = a.noise_std * rng.standard_normal((n, n_hold, 2))
        u[:, k_burn:, 0:2] += np.repeat(xi, noise_steps, axis=1)[:, : K - k_burn, :]
    u[:, :, 2] = np.where(context == 1, a.gamma_on, a.gamma_off)[:, None]
    u[:, :, 3] = np.where(context == 2, a.gamma_on, a.gamma_off)[:, None]

    relevant = sign[np.arange(n), context - 1]           # σ of the cued stimulus
    label = relevant if a.label_type == "pm1" else (relevant + 1) / 2

    with h5py.File(a.output, "w") as f:
        f.create_dataset("u", data=u.astype(np.float32 if a.float32 else np.float64))
        f.create_dataset("label", data=label)
        f.create_dataset("context", data=context.astype(np.int32))
        f.create_dataset("coherence", data=coherence)
        if a.split:
            counts = [int(c) for c in a.split.split(",")]
            if len(counts) != 3 or sum(counts) != n or min(counts) < 0:
                sys.exit(f"make_trials_file.py: --split {a.split} must be three counts summing "
                         f"to --trials {n}")
            f.create_dataset("split", data=np.repeat(np.arange(3, dtype=np.int32), counts))
        f.attrs["description"] = (
            f"contextual switch trials from make_trials_file.py for integrator.dt = {a.dt} "
            f"(K = {K} steps, T = {K * a.dt})")
    print(f"{a.output}: {n} trials x {K} steps x 4 channels for integrator.dt = {a.dt}, "
          f"labels {a.label_type}" + (f", split {a.split}" if a.split else ""))


if __name__ == "__main__":
    main()
