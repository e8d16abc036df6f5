"""Arrays in and out of Network and trials: shapes, dtypes, memory order, errors as Python
exceptions with clear messages, and loss_and_grad against central differences in float64."""

import os

import numpy as np
import pytest

import lrnn
from conftest import EVAL_EXE, need_apps, run_app, short_config


def small_network(precision="float64", N=12, R=2, seed=0, **config_set):
    rng = np.random.default_rng(seed)
    cfg = lrnn.Config.from_yaml(
        "task: {T_burn: 1.0, T_stim: 3.0, T_avg: 1.0}\nintegrator: {dt: 0.25}\n")
    return lrnn.Network.from_arrays(
        M=rng.normal(0, 1.5, (N, R)), n=rng.normal(0, 1.5, (N, R)), B=rng.normal(0, 1, (N, 4)),
        w=rng.normal(0, 1, N), b=0.1, C=rng.normal(0, 1 / np.sqrt(N), (N, N)), g=0.8, tau=1.0,
        config=cfg, precision=precision)


def random_u(trials=5, K=16, seed=1, dtype=np.float64):
    return np.random.default_rng(seed).normal(0, 1, (trials, K, 4)).astype(dtype)


def test_trials_are_the_generators_in_the_trainers_precision():
    cfg = short_config()
    t = lrnn.trials(cfg, split="train", n=7)
    assert t["u"].shape == (7, 200, 4) and t["u"].dtype == np.float32
    assert t["label"].shape == (7,) and set(np.unique(t["label"])) <= {-1.0, 1.0}
    assert t["context"].dtype == np.int32 and t["coherence"].shape == (7, 2)
    # Trial i depends on (seed, split, i) alone: the first 3 of 7 are the 3 of a request for 3.
    assert (lrnn.trials(cfg, split="train", n=3)["u"] == t["u"][:3]).all()
    # Another split is another stream; float64 rounds to the float32 numbers.
    assert not (lrnn.trials(cfg, split="val", n=7)["u"] == t["u"]).all()
    t64 = lrnn.trials(cfg.with_overrides(["training.precision=float64"]), split="train", n=7)
    assert t64["u"].dtype == np.float64
    assert (t64["u"].astype(np.float32) == t["u"]).all()
    with pytest.raises(ValueError, match="split"):
        lrnn.trials(cfg, split="eval")


def test_simulate_shapes_dtypes_and_records():
    net = small_network()
    u = random_u()
    out = net.simulate(u, record=("y", "kappa", "x"))
    assert out["y"].shape == (5, 16) and out["y"].dtype == np.float64
    assert out["kappa"].shape == (5, 16, 2)
    assert out["x"].shape == (5, 16, 12)
    assert out["t"].shape == (16,) and out["t"][0] == 0.25 and out["t"][-1] == 4.0
    # κ and y are read off x: κ_r = n_rᵀ tanh(x) / N, y = wᵀ tanh(x) / N + b.
    phi = np.tanh(out["x"])
    np.testing.assert_allclose(out["kappa"], phi @ net.n / 12, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["y"], phi @ net.w / 12 + net.b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["y_bar"], out["y"][:, -4:].mean(axis=1), atol=1e-12)
    assert set(net.simulate(u, record=("y",))) == {"t", "y_bar", "y"}
    rk = net.simulate(u, integrator="rk45")
    assert np.abs(rk["y"] - out["y"]).max() < 0.2  # the same ODE, another integrator
    assert np.isfinite(net.simulate(u, integrator="tsit5")["y"]).all()


def test_memory_order_strides_and_dtypes_give_the_same_numbers():
    net = small_network()
    u = random_u()
    ref = net.simulate(u)["y"]
    fortran = np.asfortranarray(u)
    strided = np.zeros((5, 32, 8))
    strided[:, ::2, ::2] = u
    view = strided[:, ::2, ::2]
    assert not view.flags.c_contiguous
    for variant in (fortran, view, u.tolist()):
        assert (net.simulate(variant)["y"] == ref).all()
    # float32 input into a float64 network is widened exactly.
    u32 = u.astype(np.float32)
    assert (net.simulate(u32)["y"] == net.simulate(u32.astype(np.float64))["y"]).all()
    # A float32 network: float32 and float64 inputs that round the same give the same result.
    net32 = small_network("float32")
    assert (net32.simulate(u32)["y"] == net32.simulate(u32.astype(np.float64))["y"]).all()
    np.testing.assert_allclose(net32.simulate(u)["y"], ref, atol=1e-4)
    assert (net.simulate(u.astype(np.int64))["y"] == net.simulate(np.trunc(u))["y"]).all()


def test_bad_inputs_raise_clear_python_errors(tmp_path):
    net = small_network()
    u = random_u()
    with pytest.raises(ValueError, match=r"u has shape \(5, 16\) but must be \(trials, K, d_in\)"):
        net.simulate(u[:, :, 0])
    with pytest.raises(ValueError, match="3 input channels"):
        net.simulate(u[:, :, :3])
    bad = u.copy()
    bad[2, 7, 1] = np.nan
    with pytest.raises(lrnn.InputError, match=r"u\[2, 7, 1\] is NaN"):
        net.simulate(bad)
    with pytest.raises(TypeError, match="real numbers"):
        net.simulate(u.astype(np.complex128))
    with pytest.raises(TypeError):
        net.simulate(np.array([["a"]]))
    with pytest.raises(ValueError, match="record"):
        net.simulate(u, record=("z",))
    with pytest.raises(ValueError, match="integrator"):
        net.simulate(u, integrator="rk4")
    with pytest.raises(lrnn.ConfigError):
        net.simulate(u[:, :2])  # 2 steps of 0.25 are shorter than the window T_avg = 1
    with pytest.raises(lrnn.InputError, match=r"label\[1\] = 0.5"):
        net.loss_and_grad(u, np.array([1, 0.5, 1, -1, 1]))
    with pytest.raises(lrnn.InputError, match="label has 4 entries"):
        net.loss_and_grad(u, np.ones(4))
    with pytest.raises(ValueError, match=r"M has shape \(3, 2\) but must be \(12, 2\)"):
        net.M = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"w\[4\] is NaN"):
        w = net.w
        w[4] = np.nan
        net.w = w
    with pytest.raises(lrnn.FileError, match="missing.h5"):
        lrnn.Network.from_checkpoint(str(tmp_path / "missing.h5"))
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    with pytest.raises((lrnn.FileError, lrnn.InputError), match="corrupt.h5"):
        lrnn.Network.from_checkpoint(str(corrupt))


def test_flipped_bit_in_a_checkpoint_is_refused(trained, tmp_path):
    data = bytearray(trained.read_bytes())
    ref = lrnn.Network.from_checkpoint(str(trained))
    # Find the bytes of M's first entry (float32, as stored) and flip one bit.
    needle = np.float32(ref.M[0, 0]).tobytes()
    at = bytes(data).find(needle)
    assert at > 0
    data[at] ^= 0x01
    bad = tmp_path / "flipped.h5"
    bad.write_bytes(bytes(data))
    with pytest.raises(lrnn.FileError, match="flipped.h5"):
        lrnn.Network.from_checkpoint(str(bad))


def test_parameters_are_copies_and_setters_check():
    net = small_network()
    M = net.M
    M[0, 0] += 1.0
    assert net.M[0, 0] != M[0, 0]  # a copy: changing it changes nothing
    net.M = M
    assert net.M[0, 0] == M[0, 0]
    assert net.C.shape == (12, 12) and net.w.shape == (12,) and isinstance(net.b, float)
    assert (net.N, net.R, net.d_in) == (12, 2, 4)


def test_loss_and_grad_matches_central_differences_in_float64():
    net = small_network("float64")
    u = random_u(trials=4)
    labels = np.array([1.0, -1.0, -1.0, 1.0])
    # Central differences in double: truncation O(h²) ~ 1e-12 and rounding ~ 1e-16 / h; 1e-6
    # relative to the gradient's scale leaves a margin of 100 over both.
    h = 1e-5
    tol = 1e-6
    for integrator, gradient in (("euler", None), ("rk45", "bptt"), ("rk45", "adjoint")):
        loss, grads = net.loss_and_grad(u, labels, integrator=integrator, gradient=gradient)
        assert set(grads) == {"M", "n", "B", "w", "b"}
        assert grads["M"].shape == (12, 2) and grads["w"].shape == (12,)
        assert loss == pytest.approx(
            np.mean((net.simulate(u, integrator=integrator)["y_bar"] - labels) ** 2),
            rel=1e-6 if integrator == "rk45" else 1e-12)
        scale = max(np.abs(g).max() for g in grads.values())
        for group, idx in (("M", (3, 1)), ("n", (0, 0)), ("B", (5, 2)), ("w", (7,)), ("b", ())):
            def loss_at(delta, group=group, idx=idx):
                if group == "b":
                    saved = net.b
                    net.b = saved + delta
                    value = net.loss_and_grad(u, labels, integrator=integrator)[0]
                    net.b = saved
                    return value
                p = getattr(net, group)
                p[idx] += delta
                setattr(net, group, p)
                value = net.loss_and_grad(u, labels, integrator=integrator)[0]
                p[idx] -= delta
                setattr(net, group, p)
                return value
            fd = (loss_at(h) - loss_at(-h)) / (2 * h)
            g = grads[group] if group == "b" else grads[group][idx]
            # rk45's adjoint is the derivative of the continuous problem, accurate to the
            # solver's tolerance rather than to rounding.
            t = tol if gradient != "adjoint" else 1e-3
            assert abs(g - fd) <= t * scale, (integrator, gradient, group, g, fd)


def test_float32_gradient_agrees_with_float64():
    u = random_u(trials=4)
    labels = np.array([1.0, -1.0, -1.0, 1.0])
    l64, g64 = small_network("float64").loss_and_grad(u, labels)
    l32, g32 = small_network("float32").loss_and_grad(u, labels)
    assert l32 == pytest.approx(l64, rel=1e-5)
    for k in g64:
        np.testing.assert_allclose(g32[k], g64[k], atol=1e-5 * np.abs(g64[k]).max() + 1e-7)
    lbf, _ = small_network("bf16").loss_and_grad(u, labels)
    assert lbf == pytest.approx(l64, rel=0.05)  # bf16 bulk products: about 3 decimal digits


def test_save_gives_a_checkpoint_lrnn_eval_accepts(tmp_path):
    need_apps()
    net = lrnn.Network.from_checkpoint(str(short_trained(tmp_path)))
    M = net.M
    M *= 1.01
    net.M = M
    path = tmp_path / "saved.h5"
    net.save(str(path))
    back = lrnn.Network.from_checkpoint(str(path))
    np.testing.assert_array_equal(back.M, np.float32(M).astype(np.float64))
    assert back.precision == "float32"
    run_app(EVAL_EXE, path, "--trials", "64", "--no-figures", "--out", tmp_path / "ev")
    assert (tmp_path / "ev" / "metrics.json").exists()


def short_trained(tmp_path):
    out = tmp_path / "run"
    lrnn.train(short_config(), out=str(out), threads=1)
    return out / "final.h5"
