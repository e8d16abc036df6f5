"""lrnn: low-rank RNNs (Mastrogiuseppe & Ostojic 2018) on the contextual switch task, from Python.

The same C++ core as the command-line tools, with NumPy arrays in and out and no file round trips:

    import lrnn
    config = lrnn.Config.from_file("configs/sanity.yaml", set=["training.n_epochs=1"])
    summary = lrnn.train(config, out="runs/py")            # = lrnn-train, bit for bit
    net = lrnn.Network.from_checkpoint("runs/py/final.h5")
    trials = lrnn.trials(config, split="test", n=100)      # the generator's trials, as NumPy
    out = net.simulate(trials["u"], record=("y", "kappa"))  # out["y"]: (trials, K)
    loss, grads = net.loss_and_grad(trials["u"], trials["label"])

Errors: ConfigError (a ValueError) names the key path, the value and the rule; InputError (a
ValueError) a bad checkpoint, trials array or shape; FileError (an OSError) a file that cannot be
read or written; NumericalError (an ArithmeticError) a solve that failed. The long calls release
the GIL. docs/python.md lists the whole surface; the stubs (__init__.pyi) give every signature.
"""

import json
import os
import shutil
import tempfile

from . import _lrnn
from ._lrnn import ConfigError, FileError, InputError, NumericalError, Config, Network
from ._lrnn import set_log_level

__all__ = [
    "Config", "Network", "ConfigError", "InputError", "FileError", "NumericalError", "STOP",
    "trials", "train", "evaluate", "inspect", "set_log_level",
]


class _Stop:
    """The value a train() callback returns to stop the run (True does the same)."""

    def __repr__(self):
        return "lrnn.STOP"


STOP = _Stop()


def _config(config):
    """A Config from a Config, a path to a YAML file, or a nested dict."""
    if isinstance(config, Config):
        return config
    if isinstance(config, dict):
        return Config.from_dict(config)
    if isinstance(config, (str, os.PathLike)):
        return Config.from_file(os.fspath(config))
    raise TypeError("config: expected an lrnn.Config, a path to a YAML file or a dict, not "
                    + type(config).__name__)


def trials(config, split="test", n=None):
    """The generator's trials of `split` ("train", "val" or "test"), trials 0 .. n-1, as NumPy.

    The same numbers the C++ trainer (split "train", "val") and lrnn-eval (split "test") use:
    keyed by (training.seed, split, trial index), in the trainer's precision (float32 for
    float32 and bf16 runs, float64 for float64). n defaults to the config's n_train_trials,
    n_val_trials, or 2000 test trials (lrnn-eval's default).

    Returns a dict in the layout of a trials file: u (trials, K, d_in), label (trials,),
    context (trials,) int32, coherence (trials, 2): the signed strength of each stimulus.
    """
    return _lrnn.trials(_config(config), split=split, n=n)


def train(config, out=None, resume=None, threads=None, callback=None, trials=None,
          overwrite=False):
    """Trains as `lrnn-train CONFIG --out OUT` does, bit for bit, and returns its summary.

    config: an lrnn.Config, a YAML path or a dict. out: the run directory (default
    output.dir); it must not hold a run unless resume (a checkpoint to continue from) or
    overwrite=True is given. threads: default training.threads, else all cores.

    callback(step, metrics) is called after every step (each is a line of metrics.jsonl), with
    metrics a dict: step, total_steps, loss, accuracy, grad_norm, lr, step_time_s, elapsed_s,
    and val_loss, val_accuracy, val_accuracy_ctx1, val_accuracy_ctx2 after a validation. Returning
    True or lrnn.STOP stops the run: a checkpoint of that step is written, as SIGINT does in
    lrnn-train, and the summary's status is "interrupted" (resume=summary["last_checkpoint"]
    continues it). An exception in the callback stops the run the same way and is re-raised.
    Ctrl-C (SIGINT) is checked at every step: the run stops with a checkpoint written and
    KeyboardInterrupt is raised.

    trials: instead of the generator, a dict of NumPy arrays in the layout of a trials file:
    u (trials, K, d_in), label (trials,), and optionally context, coherence (trials, 2), split
    (0 train, 1 validation, 2 test); checked as a trials file is (InputError). Without split the
    last training.n_val_trials trials validate.

    The GIL is released while training; other Python threads keep running.
    Returns a dict: status ("completed", "stopped_early", "interrupted"), message, run_dir,
    steps_done, total_steps, wall_time_s, step_time_s, final_validation (loss, accuracy,
    accuracy_ctx1, accuracy_ctx2), best_val_loss, best_step, nan_skips, last_checkpoint.
    """
    return _lrnn.train(_config(config), out=None if out is None else os.fspath(out),
                       resume=None if resume is None else os.fspath(resume), threads=threads,
                       callback=callback, trials=trials, overwrite=overwrite, stop_value=STOP)


def evaluate(checkpoint, out=None, trials=2000, integrator=None, coherences=None,
             noise_std=None, input_noise_std=None, stim_std=None, trials_file=None, threads=None,
             figures=False):
    """Evaluates a checkpoint as lrnn-eval does and returns what its metrics.json holds.

    The arguments are lrnn-eval's flags (--trials, --integrator, --coherences, --noise-std,
    --input-noise-std, --stim-std, --trials-file, --threads). With out (a directory) the files
    lrnn-eval writes are kept there (eval.h5, metrics.json, and the SVG figures when figures);
    without it they go to a temporary directory that is removed.
    """
    tmp = None
    if out is None:
        tmp = tempfile.mkdtemp(prefix="lrnn_eval_")
        out = tmp
    try:
        r = _lrnn.evaluate(os.fspath(checkpoint), os.fspath(out), trials, integrator,
                           list(coherences or []), noise_std, input_noise_std, stim_std,
                           "" if trials_file is None else os.fspath(trials_file),
                           threads or 0, figures)
        return json.loads(r["metrics_json"])
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def inspect(checkpoint, resample=0, trials=512, threads=None, seed=0, eigs=False,
            fixed_points=False, truncate=0, populations=None, out=None):
    """The document `lrnn-inspect CKPT --json` prints with the same flags, as a dict.

    low_rank always; resample (resample=K), fixed_points (fixed_points=True, which writes
    fixed_points.json into out, default inspect_<stem> beside the checkpoint), truncate
    (truncate=r) and populations (populations=P or "auto", with resample=K) when asked for.
    """
    text = _lrnn.inspect(os.fspath(checkpoint), resample, trials, threads or 0, seed, eigs,
                         fixed_points, truncate, "" if populations is None else str(populations),
                         "" if out is None else os.fspath(out))
    return json.loads(text)
