#!/usr/bin/env python3
"""The default training step in PyTorch, the peer lrnn is compared with (README, Performance).

    benchmarks/pytorch_step.py [--threads 2] [--repeats 5] [--N 500] [--batch 32] [--noise-std 0]

Times one Adam training step of the default network and task as a PyTorch user writes it: the
Euler loop over K = T/dt steps of

    x_{k+1} = x_k + (dt/tau) (-x_k + g C phi(x_k) + M (n^T phi(x_k)) / N + B u_k) [+ sigma sqrt(2 dt/tau) xi_k]
    y_k     = w^T phi(x_k) / N + b

for a batch of 32 trials, the loss (mean of (ybar - target)^2, ybar the mean of y over the last
T_avg), autograd's backward pass and Adam, in float32 and under bfloat16 autocast (torch.autocast
on the CPU: the matrix products in bfloat16, the rest in float32). Prints the median of --repeats
steps after one warm-up step for each, and the ratio to lrnn's step when --lrnn-step-s is given.
Needs Debian's python3-torch (not one of lrnn's dependencies): exits 2 with a note without it.
"""
import argparse
import statistics
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--N", type=int, default=500)
    p.add_argument("--R", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--T", type=float, default=100.0)
    p.add_argument("--T-burn", type=float, default=15.0)
    p.add_argument("--T-avg", type=float, default=10.0)
    p.add_argument("--dt", type=float, default=0.1)
    p.add_argument("--noise-std", type=float, default=0.0, help="recurrent noise sigma")
    p.add_argument("--lrnn-step-s", action="append", default=[], metavar="LABEL=SECONDS",
                   help="lrnn's step time(s) in seconds, as LABEL=SECONDS, for the ratio column")
    a = p.parse_args()
    try:
        import torch
    except ImportError:
        print("pytorch_step.py: PyTorch is not installed (Debian: apt-get install python3-torch)",
              file=sys.stderr)
        return 2
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    N, R, B_, dt, tau, g = a.N, a.R, a.batch, a.dt, 1.0, 0.8
    K = int(round(a.T / a.dt))
    k_burn = int(round(a.T_burn / a.dt))
    m = int(round(a.T_avg / a.dt))
    alpha = dt / tau

    # Parameters as the original initialises them.
    C = torch.randn(N, N) / N ** 0.5
    M = torch.nn.Parameter(torch.randn(N, R) / N ** 0.5)
    n = torch.nn.Parameter(torch.randn(N, R) / N ** 0.5)
    B = torch.nn.Parameter(torch.randn(N, 4) / 2.0)
    w = torch.nn.Parameter(torch.randn(N) / N ** 0.5)
    b = torch.nn.Parameter(torch.zeros(()))
    params = [M, n, B, w, b]
    opt = torch.optim.Adam(params, lr=0.03)

    # A batch of the contextual task: cues on the whole trial, stimuli +-1.2 after T_burn.
    ctx = torch.randint(0, 2, (B_,))
    s = torch.randint(0, 2, (B_, 2)).float() * 2 - 1
    u = torch.zeros(K, B_, 4)
    u[:, :, 2] = torch.where(ctx == 0, 0.08, -0.14)
    u[:, :, 3] = torch.where(ctx == 1, 0.08, -0.14)
    u[k_burn:, :, 0:2] = 1.2 * s
    target = torch.where(ctx == 0, s[:, 0], s[:, 1])
    noise_scale = a.noise_std * (2 * alpha) ** 0.5

    def step(autocast):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        ctx_mgr = (torch.autocast("cpu", dtype=torch.bfloat16) if autocast
                   else torch.autocast("cpu", enabled=False))
        with ctx_mgr:
            x = torch.zeros(B_, N)
            ys = []
            for k in range(K):
                r = torch.tanh(x)
                rec = g * (r @ C.T) + ((r @ n) / N) @ M.T
                dx = -x + rec + u[k] @ B.T
                x = x + alpha * dx
                if noise_scale > 0:
                    x = x + noise_scale * torch.randn(B_, N)
                if k >= K - m:
                    ys.append(torch.tanh(x) @ w / N + b)
            ybar = torch.stack(ys).float().mean(0)
            loss = ((ybar - target) ** 2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 0.1)
        opt.step()
        return time.perf_counter() - t0

    lrnn = {}
    for x in a.lrnn_step_s:
        label, _, secs = x.rpartition("=")
        try:
            lrnn[label or "step"] = float(secs)
        except ValueError:
            p.error(f"--lrnn-step-s {x!r}: expected LABEL=SECONDS, e.g. bf16=0.056")
    print(f"PyTorch {torch.__version__}, {a.threads} threads, N = {N}, R = {R}, batch {B_}, "
          f"K = {K} Euler steps, noise_std {a.noise_std}; median of {a.repeats} steps")
    for label, autocast in (("float32", False), ("bf16 autocast", True)):
        step(autocast)
        times = [step(autocast) for _ in range(a.repeats)]
        med = statistics.median(times)
        line = f"  {label:14s} {med:8.3f} s/step  (min {min(times):.3f}, max {max(times):.3f})"
        for name, secs in lrnn.items():
            line += f"  {med / secs:6.1f}x lrnn {name}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
