"""lrnn.Config from a file, a YAML string and a dict, with --set overrides; errors name the key
path, the value, the rule and the file:line."""

import pytest

import lrnn
from conftest import sanity_path


def test_sources_agree_and_overrides_apply():
    a = lrnn.Config.from_file(sanity_path(), set=["training.learning_rate=0.02"])
    d = a.to_dict()
    assert d["rnn"]["N"] == 100
    assert d["training"]["learning_rate"] == 0.02
    assert d["integrator"]["method"] == "euler"
    b = lrnn.Config.from_yaml(a.to_yaml())
    c = lrnn.Config.from_dict(d)
    assert b.to_dict() == d == c.to_dict()
    e = c.with_overrides(["rnn.N=50", "rnn.noise_std=0", "integrator.method=tsit5",
                          "integrator.rtol=1e-3", "training.precision=bf16"])
    assert e.to_dict()["rnn"]["N"] == 50
    assert e.to_dict()["integrator"]["method"] == "tsit5"
    assert e.to_dict()["training"]["precision"] == "bf16"
    assert c.to_dict()["rnn"]["N"] == 100  # with_overrides returns a new config


def test_errors_name_key_value_rule_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rnn:\n  N: 100\nintegrator:\n  rtol: -1\n")
    with pytest.raises(lrnn.ConfigError) as e:
        lrnn.Config.from_file(str(bad))
    assert "integrator.rtol" in str(e.value) and "-1" in str(e.value)
    assert "> 0" in str(e.value) and "bad.yaml:4" in str(e.value)
    assert isinstance(e.value, ValueError)

    with pytest.raises(lrnn.ConfigError, match=r"rnn\.NN"):
        lrnn.Config.from_dict({"rnn": {"NN": 3}})
    with pytest.raises(lrnn.ConfigError, match=r"training\.precision"):
        lrnn.Config.from_yaml("training:\n  precision: float16\n")
    with pytest.raises(lrnn.ConfigError, match=r"rnn\.N"):
        lrnn.Config.from_file(sanity_path(), set=["rnn.N=-3"])
    with pytest.raises(lrnn.ConfigError):
        lrnn.Config.from_file(str(tmp_path / "missing.yaml"))


def test_a_path_or_dict_is_accepted_where_a_config_is():
    t1 = lrnn.trials(sanity_path(), split="val", n=3)
    t2 = lrnn.trials(lrnn.Config.from_file(sanity_path()).to_dict(), split="val", n=3)
    assert (t1["u"] == t2["u"]).all()
    with pytest.raises(TypeError):
        lrnn.trials(42)
