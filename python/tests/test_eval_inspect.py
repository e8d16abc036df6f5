"""lrnn.evaluate and lrnn.inspect return what lrnn-eval's metrics.json and lrnn-inspect --json
hold for the same checkpoint; simulate on the test trials gives lrnn-eval's readouts."""

import json
import os

import h5py
import numpy as np
import pytest

import lrnn
from conftest import EVAL_EXE, INSPECT_EXE, need_apps, run_app, short_config


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("ev") / "run"
    lrnn.train(short_config(), out=str(out), threads=1)
    return out / "final.h5"


def without_timing(d):
    """d without its wall times (simulate_s, wall_time_s): the numbers that differ run to run."""
    if isinstance(d, dict):
        return {k: without_timing(v) for k, v in d.items() if k not in ("simulate_s", "wall_time_s")}
    if isinstance(d, list):
        return [without_timing(v) for v in d]
    return d


def test_evaluate_equals_lrnn_eval(ckpt, tmp_path):
    need_apps()
    run_app(EVAL_EXE, ckpt, "--trials", "200", "--no-figures", "--out", tmp_path / "cli")
    with open(tmp_path / "cli" / "metrics.json") as f:
        cli = json.load(f)
    py = lrnn.evaluate(str(ckpt), trials=200)
    assert without_timing(py) == without_timing(cli)
    # Another integrator and coherences, files kept in out.
    run_app(EVAL_EXE, ckpt, "--trials", "100", "--integrator", "rk45", "--coherences", "0.2,0.8",
            "--noise-std", "0", "--no-figures", "--out", tmp_path / "cli2")
    with open(tmp_path / "cli2" / "metrics.json") as f:
        cli2 = json.load(f)
    py2 = lrnn.evaluate(str(ckpt), out=str(tmp_path / "py2"), trials=100, integrator="rk45",
                        coherences=[0.2, 0.8], noise_std=0)
    assert without_timing(py2) == without_timing(cli2)
    assert (tmp_path / "py2" / "eval.h5").exists()


def test_simulate_on_the_test_trials_gives_lrnn_evals_readouts(ckpt, tmp_path):
    lrnn.evaluate(str(ckpt), out=str(tmp_path / "ev"), trials=50)
    net = lrnn.Network.from_checkpoint(str(ckpt))
    t = lrnn.trials(net.config, split="test", n=50)
    out = net.simulate(t["u"], record=("y", "kappa"))
    with h5py.File(tmp_path / "ev" / "eval.h5", "r") as f:
        np.testing.assert_array_equal(out["y"], f["trials/y"][()])
        np.testing.assert_array_equal(out["kappa"], f["trials/kappa"][()])
        np.testing.assert_array_equal(t["u"], f["trials/u"][()].astype(np.float32))


def test_inspect_equals_lrnn_inspect_json(ckpt):
    need_apps()
    cli = json.loads(run_app(INSPECT_EXE, ckpt, "--json").stdout)
    assert without_timing(lrnn.inspect(str(ckpt))) == without_timing(cli)
    cli = json.loads(run_app(INSPECT_EXE, ckpt, "--json", "--resample", "2", "--trials", "32",
                             "--threads", "1").stdout)
    py = lrnn.inspect(str(ckpt), resample=2, trials=32, threads=1)
    assert "resample" in py and without_timing(py) == without_timing(cli)


def test_bad_checkpoints_are_python_errors(tmp_path):
    with pytest.raises((lrnn.InputError, lrnn.FileError), match="nothing.h5"):
        lrnn.evaluate(str(tmp_path / "nothing.h5"))
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises((lrnn.InputError, lrnn.FileError), match="text.h5"):
        lrnn.inspect(str(text))
