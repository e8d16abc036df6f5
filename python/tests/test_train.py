"""lrnn.train: the same run as lrnn-train bit for bit, trials from NumPy, the callback that
stops a run, the GIL released, and Ctrl-C stopping with a checkpoint and KeyboardInterrupt."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import h5py
import numpy as np
import pytest

import lrnn
from conftest import SHORT, TRAIN_EXE, need_apps, run_app, sanity_path, short_config


def params(path):
    with h5py.File(path, "r") as f:
        return {k: f["params"][k][()] for k in f["params"]}


def metrics(run):
    with open(os.path.join(run, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    for r in rows:
        r.pop("step_time_s")  # wall time: the one number that differs
    return rows


def assert_same_run(a, b):
    pa, pb = params(os.path.join(a, "final.h5")), params(os.path.join(b, "final.h5"))
    assert set(pa) == {"M", "n", "B", "w", "b"} == set(pb)
    for k in pa:
        assert pa[k].dtype == pb[k].dtype
        assert pa[k].tobytes() == pb[k].tobytes(), k
    assert metrics(a) == metrics(b)


# The sanity config as it is, and with tsit5 and bf16 (accepted like any other value).
VARIANTS = {
    "euler_float32": [],
    "tsit5_bf16": ["rnn.noise_std=0", "integrator.method=tsit5", "integrator.rtol=1e-3",
                   "training.precision=bf16", "training.n_train_trials=320"],
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_train_equals_lrnn_train_bit_for_bit(tmp_path, variant):
    need_apps()
    extra = VARIANTS[variant]
    cli = tmp_path / "cli"
    args = [TRAIN_EXE, sanity_path(), "--out", cli, "--threads", "2"]
    for s in SHORT + extra:
        args += ["--set", s]
    run_app(*args)
    summary = lrnn.train(short_config(*extra), out=str(tmp_path / "py"), threads=2)
    assert summary["status"] == "completed"
    assert summary["steps_done"] == summary["total_steps"] == (10 if extra else 20)
    assert os.path.exists(summary["last_checkpoint"])
    assert 0 <= summary["final_validation"]["accuracy"] <= 1
    assert_same_run(str(cli), str(tmp_path / "py"))


def test_trials_from_numpy_equal_the_generator(tmp_path):
    cfg = short_config()
    tr = lrnn.trials(cfg, split="train", n=640)
    va = lrnn.trials(cfg, split="val", n=64)
    arrays = {k: np.concatenate([tr[k], va[k]]) for k in ("u", "label", "context", "coherence")}
    arrays["split"] = np.r_[np.zeros(640), np.ones(64)].astype(np.int8)
    lrnn.train(cfg, out=str(tmp_path / "gen"), threads=1)
    lrnn.train(cfg, out=str(tmp_path / "arr"), threads=1, trials=arrays)
    assert_same_run(str(tmp_path / "gen"), str(tmp_path / "arr"))

    bad = dict(arrays, u=arrays["u"][:, :100])
    with pytest.raises(lrnn.InputError, match="100 steps"):
        lrnn.train(cfg, out=str(tmp_path / "bad"), trials=bad)
    nan = dict(arrays, u=arrays["u"].copy())
    nan["u"][3, 4, 0] = np.nan
    with pytest.raises(lrnn.InputError, match=r"trials: u\[3, 4, 0\] is NaN"):
        lrnn.train(cfg, out=str(tmp_path / "nan"), trials=nan)
    with pytest.raises(ValueError, match="unknown key 'labels'"):
        lrnn.train(cfg, out=str(tmp_path / "key"), trials={"u": arrays["u"], "labels": 1})


def test_callback_sees_every_step_and_stops_the_run(tmp_path):
    seen = []

    def callback(step, m):
        seen.append((step, m))
        return lrnn.STOP if step == 7 else None

    s = lrnn.train(short_config(), out=str(tmp_path / "a"), threads=1, callback=callback)
    assert [step for step, _ in seen] == list(range(1, 8))
    assert "loss" in seen[0][1] and "val_loss" not in seen[0][1]
    assert s["status"] == "interrupted" and s["steps_done"] == 7
    assert os.path.exists(s["last_checkpoint"])
    # The checkpoint resumes to the uninterrupted run's result.
    r = lrnn.train(short_config(), out=str(tmp_path / "a"), threads=1, resume=s["last_checkpoint"])
    assert r["status"] == "completed"
    lrnn.train(short_config(), out=str(tmp_path / "b"), threads=1)
    assert params(str(tmp_path / "a" / "final.h5"))["M"].tobytes() == \
        params(str(tmp_path / "b" / "final.h5"))["M"].tobytes()

    # True stops too; a validation step carries the validation figures.
    s = lrnn.train(short_config(), out=str(tmp_path / "c"), threads=1,
                   callback=lambda step, m: "val_loss" in m)
    assert s["steps_done"] == 10

    # An exception in the callback stops the run (checkpoint written) and is raised.
    def boom(step, m):
        if step == 3:
            raise RuntimeError("from the callback")
    with pytest.raises(RuntimeError, match="from the callback"):
        lrnn.train(short_config(), out=str(tmp_path / "d"), threads=1, callback=boom)
    assert os.path.exists(tmp_path / "d" / "checkpoints" / "step_000003.h5")


def test_a_python_thread_runs_during_train(tmp_path):
    ticks = []
    done = threading.Event()

    def ticker():
        while not done.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    start = time.monotonic()
    try:
        lrnn.train(short_config(), out=str(tmp_path / "run"), threads=1)
    finally:
        end = time.monotonic()
        done.set()
        t.join()
    during = [x for x in ticks if start < x < end]
    # The thread ran all along, not just at the callbacks: ticks over most of the run.
    assert len(during) > 20
    assert during[-1] - during[0] > 0.5 * (end - start)


def test_errors_of_a_run(tmp_path):
    lrnn.train(short_config(), out=str(tmp_path / "run"), threads=1)
    with pytest.raises(lrnn.InputError, match="already holds a run"):
        lrnn.train(short_config(), out=str(tmp_path / "run"), threads=1)
    s = lrnn.train(short_config(), out=str(tmp_path / "run"), threads=1, overwrite=True)
    assert s["status"] == "completed"
    with pytest.raises((lrnn.InputError, lrnn.FileError), match="nope.h5"):
        lrnn.train(short_config(), out=str(tmp_path / "r2"), resume=str(tmp_path / "nope.h5"))


CHILD = textwrap.dedent("""
    import sys, lrnn
    cfg = lrnn.Config.from_file(sys.argv[1], set=["training.n_epochs=50"])
    def cb(step, m):
        if step == 3:
            print("running", flush=True)
    try:
        lrnn.train(cfg, out=sys.argv[2], threads=1, callback=cb)
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
        sys.exit(42)
""")


def test_ctrl_c_writes_a_checkpoint_and_raises_keyboard_interrupt(tmp_path):
    out = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "-c", CHILD, sanity_path(), str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "running"
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=60)
    assert p.returncode == 42, stderr
    assert "KeyboardInterrupt" in stdout
    ckpts = sorted((out / "checkpoints").glob("step_*.h5"))
    assert ckpts and ckpts[-1].name != "step_000000.h5"
    net = lrnn.Network.from_checkpoint(str(ckpts[-1]))
    assert np.isfinite(net.M).all()


def test_train_puts_pythons_sigint_handler_back(tmp_path):
    before = signal.getsignal(signal.SIGINT)
    lrnn.train(short_config(), out=str(tmp_path / "run"), threads=1)
    assert signal.getsignal(signal.SIGINT) is before
    with pytest.raises(KeyboardInterrupt):  # and Python's handler answers SIGINT again
        signal.raise_signal(signal.SIGINT)
        time.sleep(1)


def test_loss_and_grad_is_the_trainers_first_step(tmp_path):
    """The loss and gradient norm the trainer logs at step 1 (one batch that holds the 32
    training trials) are loss_and_grad's on the untrained network and those trials."""
    cfg = short_config("rnn.noise_std=0", "training.n_train_trials=32", "training.n_val_trials=32")
    lrnn.train(cfg, out=str(tmp_path / "run"), threads=1)
    first = metrics(str(tmp_path / "run"))[0]
    net = lrnn.Network.from_checkpoint(str(tmp_path / "run" / "checkpoints" / "step_000000.h5"))
    t = lrnn.trials(cfg, split="train", n=32)
    loss, grads = net.loss_and_grad(t["u"], t["label"])
    norm = np.sqrt(sum(np.sum(np.square(g)) for g in grads.values()))
    # float32 sums over the batch in another order (blocks of 16 in the trainer's batch order).
    assert loss == pytest.approx(first["loss"], rel=1e-5)
    assert norm == pytest.approx(first["grad_norm"], rel=1e-4)
