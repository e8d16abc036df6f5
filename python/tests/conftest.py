"""Shared fixtures of the Python tests: paths from ctest's environment (python/CMakeLists.txt),
small configs, and a trained checkpoint made once per test file."""

import os
import subprocess

import pytest

import lrnn

SOURCE_DIR = os.environ.get("LRNN_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
TRAIN_EXE = os.environ.get("LRNN_TRAIN_EXE")
EVAL_EXE = os.environ.get("LRNN_EVAL_EXE")
INSPECT_EXE = os.environ.get("LRNN_INSPECT_EXE")

# The sanity config cut to 20 steps of batch 32 with a validation every 10: a second's run.
SHORT = ["training.n_train_trials=640", "training.n_val_trials=64", "training.n_epochs=1",
         "training.eval_every=10", "training.save_every=10"]


def sanity_path():
    return os.path.join(SOURCE_DIR, "configs", "sanity.yaml")


def short_config(*extra):
    return lrnn.Config.from_file(sanity_path(), set=SHORT + list(extra))


def need_apps():
    if not (TRAIN_EXE and EVAL_EXE and INSPECT_EXE):
        pytest.skip("the apps' paths come from ctest (LRNN_TRAIN_EXE, ...)")


def run_app(*args, check=True):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"{args[0]} failed ({p.returncode}): {p.stderr}")
    return p


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """final.h5 of a 20-step sanity run (by lrnn.train)."""
    out = tmp_path_factory.mktemp("trained") / "run"
    lrnn.train(short_config(), out=str(out), threads=1)
    return out / "final.h5"
