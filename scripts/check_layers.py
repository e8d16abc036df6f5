#!/usr/bin/env python3
"""The include-order guard (docs/architecture.md): every #include in src/, include/, apps/ and
benchmarks/ must point at the file's own module or at a module below it.

Layers, bottom to top (modules on one layer may not include each other):

    core < model, task < integrate < optim < config < io < train < analysis < report < workflows
    < apps (apps/, benchmarks/, and the Python bindings in python/)

One CMake target per module links only the modules below it, but every target sees the same
include directories, so a wrong include would still compile: this script is what fails. It also
fails on an installed header (include/lrnn/...) that includes a private one (src/...), which an
installed lrnn could not find, and on a directory that names no known module.

Usage: check_layers.py [SOURCE_DIR]         exit 0 clean, 1 with one line per wrong edge
       check_layers.py --self-test          plants wrong includes in a temporary tree, expects 1
"""

import os
import re
import sys
import tempfile

# Module -> layer; a module may include its own and those of lower layers only.
LAYERS = {
    "core": 0,
    "model": 1,
    "task": 1,
    "integrate": 2,
    "optim": 3,
    "config": 4,
    "io": 5,
    "train": 6,
    "analysis": 7,
    "report": 8,
    "workflows": 9,
    "apps": 10,
}
ORDER = ("core < model, task < integrate < optim < config < io < train < analysis < report "
         "< workflows < apps")
SCANNED = ("src", "include", "apps", "benchmarks", "python")
SOURCE_SUFFIXES = (".hpp", ".cpp", ".h", ".cc")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def module_of_file(rel):
    """The module a file belongs to, from its path relative to the source root, or None."""
    parts = rel.split("/")
    if parts[0] in ("apps", "benchmarks", "python"):
        return "apps"  # the Python bindings sit beside the apps, on the top layer
    if parts[0] == "src" and len(parts) > 2:
        return parts[1]
    if parts[0] == "include" and len(parts) > 3 and parts[1] == "lrnn":
        return parts[2]
    return None  # src/CMakeLists.txt and the like hold no includes


def module_of_include(target, including_dir):
    """(module, is_private) of an include's target, or (None, False) for a system header."""
    parts = target.split("/")
    if parts[0] == "lrnn" and len(parts) > 2:
        return parts[1], False
    if len(parts) > 1 and parts[0] in LAYERS:
        return parts[0], True  # a private header under src/, as "io/hdf5_file.hpp"
    if len(parts) == 1 and os.path.exists(os.path.join(including_dir, target)):
        return "", True  # beside the including file: its own module
    return None, False


def check(root):
    """The wrong edges under `root`, as printable lines."""
    errors = []
    for top in SCANNED:
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if not name.endswith(SOURCE_SUFFIXES):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                errors += check_file(path, rel)
    return errors


def check_file(path, rel):
    errors = []
    module = module_of_file(rel)
    if module is None or module not in LAYERS:
        return [f"{rel}: in no known module ({', '.join(LAYERS)}): add it to LAYERS in "
                f"scripts/check_layers.py and to docs/architecture.md"]
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            target = m.group(2)
            used, private = module_of_include(target, os.path.dirname(path))
            if used is None or used == "" or used == module:
                continue
            where = f"{rel}:{line_no}: {module} -> {used} (#include {m.group(1)}{target}" \
                    f"{'>' if m.group(1) == '<' else chr(34)})"
            if used not in LAYERS:
                errors.append(f"{where}: no such module")
            elif LAYERS[used] >= LAYERS[module]:
                errors.append(f"{where}: {used} is not below {module} in {ORDER}")
            elif private and rel.startswith("include/"):
                errors.append(f"{where}: an installed header includes a private one under src/")
    return errors


def self_test():
    """The guard must fail on planted wrong edges and pass on a clean tree."""
    with tempfile.TemporaryDirectory() as root:
        def write(rel, text):
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w", encoding="utf-8") as f:
                f.write(text)

        write("include/lrnn/core/a.hpp", "#include <vector>\n")
        write("src/core/a.cpp", '#include "lrnn/core/a.hpp"\n#include "b.hpp"\n')
        write("src/core/b.hpp", "")
        write("include/lrnn/io/c.hpp", '#include "lrnn/core/a.hpp"\n')
        write("src/io/c.cpp", '#include "lrnn/io/c.hpp"\n#include "core/d.hpp"\n')
        write("apps/x.cpp", '#include "lrnn/io/c.hpp"\n')
        if check(root):
            print("self-test: a clean tree was refused:", *check(root), sep="\n  ")
            return 1
        planted = {
            "src/core/bad.cpp": ('#include "lrnn/io/c.hpp"\n', "core -> io"),
            "include/lrnn/model/bad.hpp": ('#include "lrnn/task/t.hpp"\n', "model -> task"),
            "include/lrnn/optim/bad.hpp": ('#include "config/x.hpp"\n', "optim -> config"),
            "include/lrnn/io/bad2.hpp": ('#include "core/d.hpp"\n', "installed header"),
            "src/newmod/e.cpp": ("", "no known module"),
        }
        for rel, (text, _) in planted.items():
            write(rel, text)
        errors = check(root)
        missed = [what for rel, (_, what) in planted.items()
                  if not any(e.startswith(rel) and what.split(" ->")[0] in e for e in errors)]
        if missed or len(errors) != len(planted):
            print("self-test: planted edges not all reported:", missed, *errors, sep="\n  ")
            return 1
    print(f"self-test: {len(planted)} planted wrong includes reported, clean tree passed")
    return 0


def main(argv):
    if len(argv) > 1 and argv[1] == "--self-test":
        return self_test()
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    errors = check(root)
    for e in errors:
        print(e)
    if errors:
        print(f"{len(errors)} include(s) against the layer order {ORDER} (docs/architecture.md)")
        return 1
    print(f"include order: clean ({ORDER})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
