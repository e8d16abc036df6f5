#!/usr/bin/env python3
"""The function-length guard (docs/architecture.md, STYLE.md "Functions"): no function in src/,
include/, apps/ or benchmarks/ longer than MAX_LINES lines, counted from the first line of its
signature to its closing brace, blank lines and comments included.

A brace-matching scan, not a parser: comments, string and character literals and preprocessor
lines are blanked out, then every `{` at namespace or class scope whose header (the text since the
previous `;`, `{` or `}`) holds a parameter list opens a function, as does a lambda bound to a
name there; what nests inside it (lambdas, local classes, blocks) counts towards that function.
Data initialised with braces (`x = {...}`) and type definitions are not functions.

Usage: check_function_length.py [SOURCE_DIR]   exit 0 clean, 1 with one line per long function
       check_function_length.py --self-test    checks the scanner on planted sources, expects 0
"""

import os
import re
import sys
import tempfile

MAX_LINES = 80
SCANNED = ("src", "include", "apps", "benchmarks")
SOURCE_SUFFIXES = (".hpp", ".cpp", ".h", ".cc")

# Functions allowed to be longer, as "path:name" -> why. Keep it empty unless a split would make
# the code harder to read; every entry needs its reason.
ALLOWED = {}

_TOKEN = re.compile(r'//[^\n]*|/\*.*?\*/|R"([^(\s]*)\(.*?\)\1"|"(?:\\.|[^"\\\n])*"|'
                    r"'(?:\\.|[^'\\\n])*'", re.S)
_TYPE_HEADER = re.compile(r"^(template\s*<.*>\s*)?(typedef\s+)?(class|struct|union|enum)\b", re.S)
# A constructor's header up to a member initialised with braces: `) : a_(x), b_` before `{`.
_MEMBER_INIT = re.compile(r"\)\s*(?:noexcept\s*)?:(?!:)[^;]*\b\w+\s*$")
_NAME = re.compile(r"((?:[\w~]+(?:<[^<>()]*>)?::)*(?:operator\s*[^\s(]+|~?\w+))\s*\($")


def blank(text):
    """`text` with comments, literals and preprocessor lines replaced by spaces (newlines kept)."""
    def keep_newlines(m):
        return "".join(c if c == "\n" else " " for c in m.group(0))
    text = _TOKEN.sub(keep_newlines, text)
    return re.sub(r"^[ \t]*#[^\n]*(?:\\\n[^\n]*)*", keep_newlines, text, flags=re.M)


def top_level(header):
    """`header` without what stands inside (), <> is left: the parentheses' contents go."""
    out, depth = [], 0
    for c in header:
        if c == "(":
            depth += 1
            if depth == 1:
                out.append("(")
        elif c == ")":
            depth -= 1
            if depth == 0:
                out.append(")")
        elif depth == 0:
            out.append(c)
    return "".join(out)


def kind_of(header):
    """'function', 'type', 'namespace' or 'other' for the text before a `{` at non-function scope."""
    h = " ".join(header.split())
    if not h or h.startswith("namespace") or h.startswith('extern'):
        return "namespace"
    if _TYPE_HEADER.match(h):
        return "type"
    flat = top_level(h)
    if "(" not in flat:
        return "other"
    flat = re.sub(r"\boperator\s*(\(\)|[^\s(]+)", "operator", flat)
    assign = re.search(r"(?<![=!<>+\-*/%&|^])=(?!=)", flat)
    if assign:
        # A lambda bound to a name (`const auto f = [&](int x) {`) is a function; anything else
        # after `=` is data initialised with braces.
        return "lambda" if re.search(r"\][^=]*\(\)[^=]*$", flat[assign.end():]) else "other"
    return "function"


def functions(text):
    """(name, first line, last line) of every function body in `text`, outermost only."""
    text = blank(text)
    found, stack = [], []  # stack of (kind, start line, name)
    header_start = 0
    parens = 0  # braces and semicolons inside parentheses (default arguments `= {}`) do not count
    for i, c in enumerate(text):
        if c in "()":
            parens += 1 if c == "(" else -1
        elif c in ";{}" and parens == 0:
            if c == "{":
                if any(k == "function" for k, _, _ in stack):
                    stack.append(("inner", 0, ""))
                else:
                    header = text[header_start:i]
                    kind = kind_of(header)
                    if kind == "function" and _MEMBER_INIT.search(top_level(header)):
                        # `A::A(int a) : b_{a}, c_{a} {`: a member's braces, inside the header
                        stack.append(("init", 0, ""))
                        continue
                    stripped = len(header) - len(header.lstrip())
                    line = text.count("\n", 0, header_start + stripped) + 1
                    name = ""
                    if kind == "lambda":
                        kind = "function"
                        m = re.search(r"(\w+)\s*=", top_level(header))
                        name = m.group(1) if m else "?"
                    elif kind == "function":
                        before_params = top_level(" ".join(header.split())).split("(")[0] + "("
                        m = _NAME.search(before_params)
                        name = m.group(1) if m else "?"
                    stack.append((kind, line, name))
            elif c == "}" and stack:
                kind, line, name = stack.pop()
                if kind == "init":
                    continue  # the constructor's header goes on
                if kind == "function":
                    found.append((name, line, text.count("\n", 0, i) + 1))
            header_start = i + 1
    return found


def check(root):
    errors = []
    for top in SCANNED:
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for file in sorted(files):
                if not file.endswith(SOURCE_SUFFIXES):
                    continue
                path = os.path.join(dirpath, file)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                for name, first, last in functions(text):
                    length = last - first + 1
                    if length > MAX_LINES and f"{rel}:{name}" not in ALLOWED:
                        errors.append(f"{rel}:{first}: {name} is {length} lines (> {MAX_LINES}): "
                                      f"split it into named phases")
    return errors


def self_test():
    long_body = "".join(f"  x += {k};\n" for k in range(MAX_LINES))
    cases = {
        # text, expected functions as (name, length)
        "short": ("int f(int x) {\n  return x;\n}\n", [("f", 3)]),
        "long": (f"namespace a {{\nvoid g(int x) {{\n{long_body}}}\n}}\n", [("g", MAX_LINES + 2)]),
        "member": ("struct S {\n  int h() const { return 1; }\n  int v{2};\n};\n"
                   "template <typename T>\nT S::k(T t) const noexcept {\n  if (t) { t; }\n"
                   "  auto l = [](int y) { return y; };\n  return t;\n}\n",
                   [("h", 1), ("S::k", 6)]),
        "data": ('const int kA[] = {1, 2};\nconst char* s = "{";\n// {\nauto x = std::max(1, 2);\n'
                 "inline constexpr T kT = {{1}, f(2)};\n", []),
        "lambda": ("const auto kF = [](int y) {\n  if (y) { return 1; }\n  return y;\n};\n",
                   [("kF", 4)]),
        "ctor": ("A::A(int a) : a_(a), b_(f(a)) {\n  c();\n}\n"
                 "B::B(int a)\n    : a_{a}, b_{f(a), 2} {\n  if (a) {\n    c();\n  }\n}\n",
                 [("A::A", 3), ("B::B", 6)]),
        "default argument": ("void f(int a, S s = {}, T t = {1}) {\n  if (a) {\n    g();\n  }\n}\n",
                             [("f", 5)]),
        "operator": ("bool operator==(A a, A b) {\n  return a.x == b.x;\n}\n"
                     "A& A::operator=(const A& o) {\n  return *this;\n}\n",
                     [("operator==", 3), ("A::operator=", 3)]),
    }
    failures = []
    for what, (text, expected) in cases.items():
        got = [(name, last - first + 1) for name, first, last in functions(text)]
        if got != expected:
            failures.append(f"{what}: expected {expected}, found {got}")
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "src", "core"))
        with open(os.path.join(root, "src", "core", "a.cpp"), "w", encoding="utf-8") as f:
            f.write(cases["long"][0] + cases["short"][0])
        errors = check(root)
        if len(errors) != 1 or "src/core/a.cpp:2: g is 82 lines" not in errors[0]:
            failures.append(f"planted long function: expected one report of g, found {errors}")
    for f in failures:
        print("self-test:", f)
    if failures:
        return 1
    print(f"self-test: {len(cases)} scans as expected, a planted {MAX_LINES + 2}-line function "
          f"reported")
    return 0


def main(argv):
    if len(argv) > 1 and argv[1] == "--self-test":
        return self_test()
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    errors = check(root)
    for e in errors:
        print(e)
    if errors:
        print(f"{len(errors)} function(s) over {MAX_LINES} lines")
        return 1
    print(f"function length: none over {MAX_LINES} lines"
          + (f" ({len(ALLOWED)} allowed: {', '.join(ALLOWED)})" if ALLOWED else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
