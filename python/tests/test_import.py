"""The package imports from the build tree, its stubs name what the module has with the same
parameters, and `cmake --install` puts an importable copy under the prefix."""

import ast
import inspect
import os
import re
import subprocess
import sys

import pytest

import lrnn
from lrnn import _lrnn

PACKAGE_DIR = os.path.dirname(lrnn.__file__)


def stub_tree(name):
    with open(os.path.join(PACKAGE_DIR, name)) as f:
        return ast.parse(f.read())


def stub_functions(body):
    """{name: [parameter names]} of the functions defined in an AST body (self dropped)."""
    out = {}
    for node in body:
        if isinstance(node, ast.FunctionDef):
            args = [a.arg for a in node.args.args if a.arg != "self"]
            out[node.name] = args
    return out


def pybind_parameters(fn):
    """Parameter names from a pybind11 function's signature line, e.g. 'f(self: X, a: int)'."""
    first = fn.__doc__.strip().splitlines()[0]
    inner = first[first.index("(") + 1:first.rindex(") ->")]
    names = [m.group(1) for m in re.finditer(r"(?:^|, )(\w+): ", inner)]
    return [n for n in names if n != "self"]


def test_public_names():
    for name in lrnn.__all__:
        assert hasattr(lrnn, name), name
    assert issubclass(lrnn.ConfigError, ValueError)
    assert issubclass(lrnn.InputError, ValueError)
    assert issubclass(lrnn.FileError, OSError)


def test_package_stub_matches_the_package():
    tree = stub_tree("__init__.pyi")
    funcs = stub_functions(tree.body)
    public_functions = {n for n in lrnn.__all__ if inspect.isfunction(getattr(lrnn, n))}
    assert public_functions == set(funcs)
    for name, params in funcs.items():
        assert list(inspect.signature(getattr(lrnn, name)).parameters) == params, name
    imported = {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom)
                and n.module == "_lrnn" for a in n.names}
    assert imported == {n for n in lrnn.__all__ if getattr(lrnn, n) is getattr(_lrnn, n, None)}


def test_extension_stub_matches_the_extension():
    tree = stub_tree("_lrnn.pyi")
    funcs = stub_functions(tree.body)
    module_functions = {n for n in dir(_lrnn) if not n.startswith("_")
                        and callable(getattr(_lrnn, n)) and not isinstance(getattr(_lrnn, n), type)}
    assert module_functions == set(funcs)
    for name, params in funcs.items():
        assert pybind_parameters(getattr(_lrnn, name)) == params, name
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    assert set(classes) == {n for n in dir(_lrnn) if isinstance(getattr(_lrnn, n), type)}
    for cname in ("Config", "Network"):
        cls = getattr(_lrnn, cname)
        body = classes[cname].body
        methods = stub_functions(body)
        attributes = {n.target.id for n in body if isinstance(n, ast.AnnAssign)}
        public = {n for n in dir(cls) if not n.startswith("_")}
        assert public == set(methods) | attributes, cname
        for name, params in methods.items():
            member = getattr(cls, name)
            if isinstance(member, property):
                continue
            assert pybind_parameters(member) == params, f"{cname}.{name}"


def test_install_puts_an_importable_package_under_the_prefix(tmp_path):
    build = os.environ.get("LRNN_BUILD_DIR")
    if not build:
        pytest.skip("needs the build directory (ctest sets LRNN_BUILD_DIR)")
    subprocess.run(["cmake", "--install", build, "--component", "python", "--prefix",
                    str(tmp_path)], check=True, capture_output=True)
    site = tmp_path / "lib" / "python3" / "dist-packages"
    assert (site / "lrnn" / "__init__.pyi").exists()
    assert (site / "lrnn" / "py.typed").exists()
    env = dict(os.environ, PYTHONPATH=str(site))
    out = subprocess.run([sys.executable, "-c", "import lrnn; print(lrnn.__file__)"], env=env,
                         cwd=str(tmp_path),
                         check=True, capture_output=True, text=True).stdout
    assert out.strip().startswith(str(site))
