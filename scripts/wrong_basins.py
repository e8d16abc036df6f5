#!/usr/bin/env python3
"""Count the stimulus conditions in which a trained network has a stable fixed point whose readout
has the wrong sign: a basin that a trial can fall into and never leave.

For each of the 8 conditions of the contextual switch task (context x the signs of the two
stimuli, at the task's stimulus strength, no noise) the input u is constant after the cue period,
and the dynamics tau dx/dt = F(x) = -x + (g C + M n^T / N) tanh(x) + B u have fixed points. This
script finds the stable ones by relaxation: it starts from the end states of all 8 conditions'
noise-free trials, the state at the end of each context's cue period, jittered copies of these
and random states, integrates dx/dt = F(x) until the states settle, polishes each with Newton's
method on F(x) = 0 (exact Jacobian -I + J diag(1 - tanh(x)^2)), merges duplicates and keeps the
points whose Jacobian has every eigenvalue with a negative real part. A point whose readout
y = w^T tanh(x) / N + b has the sign opposite to the condition's target is a wrong basin.

    wrong_basins.py CKPT.h5 [CKPT.h5 ...] [--json OUT.json] [--starts 48] [--seed 0]

Prints one line per checkpoint: the number of conditions (of 8) with a wrong stable point, and
for each condition the readouts of its stable points. Needs numpy, scipy, h5py and yaml (Debian's
python3-numpy, python3-scipy, python3-h5py, python3-yaml). Exit codes: 0 done, 2 bad input.
"""

import argparse
import json
import sys

import h5py
import numpy as np
import yaml

# Relaxation: Euler at this fraction of tau for this many time constants; then Newton.
RELAX_DT = 0.2
RELAX_T = 200.0
NEWTON_ITERS = 20
F_TOL = 1e-9          # |F|_inf of a fixed point after Newton
MERGE_TOL = 1e-4      # RMS distance per unit under which two points are one
STABLE_MARGIN = 1e-6  # max Re(lambda) below -this: stable


def load(path):
    try:
        with h5py.File(path, "r") as f:
            net = {k: np.asarray(f["params"][k], dtype=np.float64) for k in ("M", "n", "B", "w")}
            net["b"] = float(np.asarray(f["params"]["b"]))
            net["C"] = np.asarray(f["fixed"]["C"], dtype=np.float64)
            net["g"] = float(f.attrs["g"])
            net["tau"] = float(f.attrs["tau"])
            cfg = f.attrs["config_yaml"]
    except (OSError, KeyError) as e:
        raise SystemExit(f"wrong_basins.py: {path}: not a readable lrnn checkpoint ({e})")
    if isinstance(cfg, bytes):
        cfg = cfg.decode()
    net["config"] = yaml.safe_load(cfg)
    return net


def conditions(task):
    """(context, s1, s2, u during the stimulus, u during the cue, target) for the 8 conditions."""
    on, off, a = task["gamma_on"], task["gamma_off"], task["stim_mean_abs"]
    out = []
    for ctx in (1, 2):
        cue = [on if ctx == 1 else off, on if ctx == 2 else off]
        for s1 in (-1, 1):
            for s2 in (-1, 1):
                u = np.array([s1 * a, s2 * a] + cue)
                u_cue = np.array([0.0, 0.0] + cue)
                out.append((ctx, s1, s2, u, u_cue, s1 if ctx == 1 else s2))
    return out


def rhs(net, X, u):
    """F(X) for a block of states, one per column."""
    P = np.tanh(X)
    N = X.shape[0]
    return -X + net["g"] * (net["C"] @ P) + net["M"] @ (net["n"].T @ P / N) + (net["B"] @ u)[:, None]


def jacobian(net, x):
    N = x.shape[0]
    J = net["g"] * net["C"] + net["M"] @ net["n"].T / N
    return -np.eye(N) + J * (1.0 - np.tanh(x) ** 2)[None, :]


def simulate(net, x0, u, T, dt):
    X = x0.copy()
    a = dt / net["tau"]
    for _ in range(int(round(T / dt))):
        X = X + a * rhs(net, X, u)
    return X


def trial_states(net, conds, task, dt):
    """End of the cue period per context, and the end state of each condition's trial."""
    N = net["C"].shape[0]
    cue_end, ends = {}, []
    for ctx, _, _, u, u_cue, _ in conds:
        if ctx not in cue_end:
            cue_end[ctx] = simulate(net, np.zeros((N, 1)), u_cue, task["T_burn"], dt)
        ends.append(simulate(net, cue_end[ctx], u, task["T_stim"], dt))
    return np.hstack(list(cue_end.values())), np.hstack(ends)


def newton(net, x, u):
    for _ in range(NEWTON_ITERS):
        F = rhs(net, x[:, None], u)[:, 0]
        if np.max(np.abs(F)) < F_TOL:
            return x, True
        x = x - np.linalg.solve(jacobian(net, x), F)
    F = rhs(net, x[:, None], u)[:, 0]
    return x, bool(np.max(np.abs(F)) < F_TOL)


def stable_points(net, u, starts):
    X = simulate(net, starts, u, RELAX_T, RELAX_DT * net["tau"])
    N = X.shape[0]
    points = []
    for j in range(X.shape[1]):
        x, ok = newton(net, X[:, j], u)
        if not ok:
            continue
        if any(np.sqrt(np.mean((x - p) ** 2)) < MERGE_TOL for p in points):
            continue
        points.append(x)
    found = []
    for x in points:
        lam = np.linalg.eigvals(jacobian(net, x))
        if np.max(lam.real) < -STABLE_MARGIN:
            phi = np.tanh(x)
            found.append({"y": float(net["w"] @ phi / N + net["b"]),
                          "kappa": (net["n"].T @ phi / N).tolist(),
                          "max_re_lambda": float(np.max(lam.real))})
    return found


def census(path, n_starts, seed):
    net = load(path)
    task = net["config"]["task"]
    dt = net["config"]["integrator"]["dt"]
    if task.get("trials_file"):
        raise SystemExit(f"wrong_basins.py: {path}: trained on a trials file; the conditions "
                         "of the generated task do not apply")
    conds = conditions(task)
    cue_ends, ends = trial_states(net, conds, task, dt)
    rng = np.random.default_rng(seed)
    base = np.hstack([cue_ends, ends])
    N = base.shape[0]
    rows = []
    wrong = 0
    for (ctx, s1, s2, u, _, target), end in zip(conds, ends.T):
        n_jitter = max(0, n_starts - base.shape[1] - 8)
        picks = base[:, rng.integers(0, base.shape[1], n_jitter)]
        jitter = picks + rng.normal(0.0, 1.0, (N, n_jitter)) * rng.choice([0.1, 0.5, 1.0], n_jitter)
        starts = np.hstack([base, jitter, rng.normal(0.0, 1.0, (N, 8))])
        pts = stable_points(net, u, starts)
        bad = [p for p in pts if np.sign(p["y"]) != target]
        wrong += 1 if bad else 0
        # Where this condition's own trial goes: the stable point nearest its end state.
        trial_y = float(net["w"] @ np.tanh(end) / N + net["b"])
        rows.append({"context": ctx, "s1": s1, "s2": s2, "target": target,
                     "trial_end_y": trial_y, "stable_points": pts, "wrong": len(bad)})
    return {"checkpoint": path, "wrong_conditions": wrong, "conditions": rows}


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+", help="lrnn checkpoints (.h5)")
    p.add_argument("--json", help="write every point found to this file")
    p.add_argument("--starts", type=int, default=48, help="starts per condition (default 48)")
    p.add_argument("--seed", type=int, default=0, help="seed of the jitter (default 0)")
    args = p.parse_args(argv)
    if args.starts < 10:
        p.error("--starts must be >= 10")
    results = []
    for path in args.checkpoints:
        r = census(path, args.starts, args.seed)
        results.append(r)
        detail = "  ".join(
            f"c{c['context']}{'+' if c['s1'] > 0 else '-'}{'+' if c['s2'] > 0 else '-'}:"
            + ",".join(f"{q['y']:+.2f}" for q in c["stable_points"])
            for c in r["conditions"])
        print(f"{path}: {r['wrong_conditions']}/8 conditions with a wrong stable point  {detail}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
