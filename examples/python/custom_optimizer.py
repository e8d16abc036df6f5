#!/usr/bin/env python3
"""lrnn as a differentiable simulator inside an optimiser written in NumPy.

Network.loss_and_grad(u, labels) returns the window loss of DESIGN.md section 2 and its
gradient for every parameter group; here a hand-written Adam takes a few steps on the
contextual switch task's trials (lrnn.trials) and the loss falls.

    PYTHONPATH=build/python python3 examples/python/custom_optimizer.py [--size small]
"""

import argparse
import os

import numpy as np

import lrnn

SIZES = {"small": dict(N=60, trials=64, steps=25), "full": dict(N=300, trials=256, steps=150)}


class Adam:
    """Adam (Kingma & Ba 2015) on a dict of NumPy arrays and floats."""

    def __init__(self, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m, self.v, self.t = {}, {}, 0

    def step(self, params, grads):
        self.t += 1
        out = {}
        for k, g in grads.items():
            self.m[k] = self.beta1 * self.m.get(k, 0.0) + (1 - self.beta1) * g
            self.v[k] = self.beta2 * self.v.get(k, 0.0) + (1 - self.beta2) * np.square(g)
            m_hat = self.m[k] / (1 - self.beta1 ** self.t)
            v_hat = self.v[k] / (1 - self.beta2 ** self.t)
            out[k] = params[k] - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default=os.environ.get("LRNN_EXAMPLE_SIZE",
                                                                            "full"))
    size = SIZES[ap.parse_args().size]
    N = size["N"]
    # The contextual switch task at a coarse step (dt = 0.5: K = 200 steps per trial).
    config = lrnn.Config.from_dict({"rnn": {"N": N}, "integrator": {"dt": 0.5}})
    trials = lrnn.trials(config, split="train", n=size["trials"])

    rng = np.random.default_rng(0)
    net = lrnn.Network.from_arrays(
        M=rng.normal(0, 1 / np.sqrt(N), (N, 2)), n=rng.normal(0, 1 / np.sqrt(N), (N, 2)),
        B=rng.normal(0, 0.5, (N, 4)), w=rng.normal(0, 1 / np.sqrt(N), N), b=0.0,
        C=rng.normal(0, 1 / np.sqrt(N), (N, N)), g=0.8, tau=1.0, config=config)
    opt = Adam(lr=0.03)
    losses = []
    for step in range(size["steps"]):
        loss, grads = net.loss_and_grad(trials["u"], trials["label"])
        losses.append(loss)
        params = opt.step({k: getattr(net, k) for k in grads}, grads)
        for k, v in params.items():
            setattr(net, k, v)
        if step % 5 == 0 or step == size["steps"] - 1:
            print(f"step {step:3d}  loss {loss:.4f}")
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f} in {size['steps']} steps of NumPy Adam")
    if not losses[-1] < 0.8 * losses[0]:
        raise SystemExit("the loss did not fall")


if __name__ == "__main__":
    main()
