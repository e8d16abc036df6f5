"""The examples of examples/python/ and the README's Python example run as written (small sizes)."""

import os
import re
import subprocess
import sys

from conftest import SOURCE_DIR

EXAMPLES = os.path.join(SOURCE_DIR, "examples", "python")


def run(args, cwd, env_extra=None):
    env = dict(os.environ, LRNN_EXAMPLE_SIZE="small", MPLBACKEND="Agg", **(env_extra or {}))
    p = subprocess.run([sys.executable] + args, cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def test_custom_task_trains_and_plots(tmp_path):
    out = run([os.path.join(EXAMPLES, "custom_task.py"), "--out", str(tmp_path)], cwd=tmp_path)
    png = tmp_path / "custom_task.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20000  # three panels of traces, not an empty figure
    m = re.search(r"loss ([\d.]+) -> ([\d.]+)", out)
    assert m and float(m.group(2)) < float(m.group(1)), out


def test_custom_optimizer_lowers_the_loss(tmp_path):
    out = run([os.path.join(EXAMPLES, "custom_optimizer.py")], cwd=tmp_path)
    assert "did not fall" not in out and "NumPy Adam" in out


def test_readme_python_example_runs_as_written(tmp_path):
    with open(os.path.join(SOURCE_DIR, "README.md")) as f:
        readme = f.read()
    section = readme[readme.index("\n## Python"):]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "README.md: no ```python block in the Python section"
    script = tmp_path / "readme_example.py"
    script.write_text(blocks[0])
    run([str(script)], cwd=SOURCE_DIR)
