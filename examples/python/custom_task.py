#!/usr/bin/env python3
"""A task built in NumPy, trained through lrnn's Python API, its readouts and latents plotted.

The task: after a fixation period, one noisy input channel carries evidence whose mean is
+c or -c; a second channel is a fixation cue that is on throughout. The network must report the
sign of the mean at the end of the trial (y -> +1 or -1). This is not the contextual switch task:
lrnn trains on any trials given as arrays in the layout of a trials file.

    PYTHONPATH=build/python python3 examples/python/custom_task.py [--size small] [--out DIR]

Writes DIR/custom_task.png (readouts y(t) and the latents kappa_r(t) of test trials, colored by
the sign of the evidence) and DIR/run/ (the run directory: metrics.jsonl, final.h5, ...).
"""

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import lrnn  # noqa: E402

SIZES = {  # units, training trials, epochs
    "small": dict(N=40, n_train=640, epochs=5),
    "full": dict(N=200, n_train=4000, epochs=5),
}
T_FIX, T_STIM, DT, NOISE_DT = 5.0, 20.0, 0.5, 1.0


def make_trials(n, seed):
    """u (n, K, 2), label (n,), coherence (n, 2): the noisy evidence task on the dt grid."""
    rng = np.random.default_rng(seed)
    K = int(round((T_FIX + T_STIM) / DT))
    k_on = int(round(T_FIX / DT))
    hold = int(round(NOISE_DT / DT))  # noise held on intervals of NOISE_DT
    sign = rng.choice([-1.0, 1.0], n)
    c = rng.choice([0.1, 0.2, 0.4], n)
    noise = rng.normal(0.0, 0.5, (n, (K - k_on) // hold)).repeat(hold, axis=1)
    u = np.zeros((n, K, 2), dtype=np.float32)
    u[:, k_on:, 0] = (sign * c)[:, None] + noise
    u[:, :, 1] = 0.5  # fixation cue
    coherence = np.stack([sign * c, np.zeros(n)], axis=1)
    return u, sign, coherence


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default=os.environ.get("LRNN_EXAMPLE_SIZE",
                                                                            "full"))
    ap.add_argument("--out", default="custom_task_out")
    args = ap.parse_args()
    size = SIZES[args.size]
    os.makedirs(args.out, exist_ok=True)

    n_val = 64
    u, label, coherence = make_trials(size["n_train"] + n_val, seed=1)
    split = np.r_[np.zeros(size["n_train"]), np.ones(n_val)]
    config = lrnn.Config.from_dict({
        "rnn": {"N": size["N"], "R": 2, "d_in": 2, "noise_std": 0.05},
        "task": {"T_burn": T_FIX, "T_stim": T_STIM, "T_avg": 5.0},
        "integrator": {"method": "euler", "dt": DT},
        "training": {"n_train_trials": size["n_train"], "n_val_trials": n_val,
                     "n_epochs": size["epochs"], "batch_size": 32, "learning_rate": 0.02,
                     "eval_every": 10, "save_every": 1000},
    })
    losses = []
    summary = lrnn.train(config, out=os.path.join(args.out, "run"), overwrite=True,
                         trials={"u": u, "label": label, "coherence": coherence, "split": split},
                         callback=lambda step, m: losses.append(m["loss"]))
    val = summary["final_validation"]
    print(f"trained {summary['steps_done']} steps: loss {losses[0]:.3f} -> {losses[-1]:.3f}, "
          f"validation accuracy {val['accuracy']:.3f}")

    net = lrnn.Network.from_checkpoint(summary["last_checkpoint"])
    u_test, label_test, _ = make_trials(40, seed=2)
    sim = net.simulate(u_test, noise=0.0, record=("y", "kappa"))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    colors = np.where(label_test > 0, "tab:red", "tab:blue")
    for j in range(len(label_test)):
        axes[0].plot(sim["t"], sim["y"][j], color=colors[j], lw=0.8, alpha=0.7)
        for r in range(net.R):
            axes[1 + r].plot(sim["t"], sim["kappa"][j, :, r], color=colors[j], lw=0.8, alpha=0.7)
    axes[0].set_title("readout y(t)  (red: evidence > 0)")
    for r in range(net.R):
        axes[1 + r].set_title(f"latent $\\kappa_{r + 1}(t)$")
    for ax in axes:
        ax.axvline(T_FIX, color="gray", ls=":")
        ax.set_xlabel("t")
    fig.tight_layout()
    png = os.path.join(args.out, "custom_task.png")
    fig.savefig(png, dpi=100)
    accuracy = np.mean(np.sign(sim["y_bar"]) == label_test)
    print(f"test accuracy {accuracy:.3f}; wrote {png}")


if __name__ == "__main__":
    main()
