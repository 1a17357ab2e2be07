#!/usr/bin/env python3
"""Checks the import structure of the workspace's crates.

Reads every `.rs` file under a crate's `src/`, resolves each `crate::…`,
`super::…` and `self::…` path it names to the module that defines it, and
fails if

- two modules import each other, directly or through others (a cycle), in
  any crate given;
- a module of the runtime imports a layer it must not (the rules below).

A parent's `pub use child::Item` is a facade over its own children, not an
import, and `mod child;` is a declaration: neither counts as an edge, so the
usual `mod.rs` that re-exports its children and the children that name
`super::Item` are not reported as a cycle. Test modules (`#[cfg(test)] mod
tests`, `tests.rs`) are skipped: tests may reach anywhere.

Usage: scripts/layers.py [--graph] [CRATE_SRC_DIR…]
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Runtime layering: the top-level module on the left never imports the ones
# on the right. Arrows run downward: spec ← source/transform/store ←
# pipeline ← cli.
RUNTIME_RULES = {
    "spec": {"source", "transform", "store", "pipeline", "dataset", "cli", "serve", "stream",
             "engine", "migrate", "catalog", "config", "registry", "location", "io"},
    "time": {"source", "transform", "store", "pipeline", "cli"},
    "location": {"source", "transform", "store", "pipeline", "cli"},
    "io": {"source", "transform", "store", "pipeline", "cli"},
    "source": {"transform", "store", "pipeline", "cli", "serve", "stream", "engine"},
    "transform": {"store", "pipeline", "cli", "serve", "stream", "engine"},
    "store": {"transform", "source", "pipeline", "cli", "serve", "stream", "engine"},
    "pipeline": {"cli", "serve"},
}

USE_RE = re.compile(r"^\s*(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.M | re.S)
PATH_RE = re.compile(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")
MOD_RE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;", re.M)
PATH_ATTR_RE = re.compile(r'#\[path\s*=\s*"([^"]+)"\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;')
CFG_TEST_MOD_RE = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{", re.M)


def strip_comments(text):
    """Removes comments and the text of literals: a path inside a message
    (`"see crate::hooks::clean"`) is not an import."""
    text = re.sub(r'r(#+)".*?"\1', '""', text, flags=re.S)
    text = re.sub(r"'(?:\\.|[^'\\\n])'", "' '", text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text, flags=re.S)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def strip_test_modules(text):
    """Removes inline `#[cfg(test)] mod x { … }` blocks."""
    while True:
        m = CFG_TEST_MOD_RE.search(text)
        if not m:
            return text
        depth, i = 0, m.end() - 1
        while i < len(text):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        text = text[: m.start()] + text[i + 1:]


def discover(src):
    """Module path (tuple) → file, following `mod x;` from lib.rs."""
    modules = {}

    def visit(path, file):
        modules[path] = file
        text = strip_comments(file.read_text())
        text = strip_test_modules(text)
        explicit = {}
        for rel, name in PATH_ATTR_RE.findall(text):
            explicit[name] = file.parent / rel
        for name in MOD_RE.findall(text):
            if name == "tests" or name in ("test", "test_util"):
                continue
            if name in explicit:
                child = explicit[name]
            else:
                base = file.parent if file.name in ("lib.rs", "mod.rs", "main.rs") else file.with_suffix("")
                child = base / f"{name}.rs"
                if not child.exists():
                    child = base / name / "mod.rs"
            if child.exists():
                visit(path + (name,), child)

    visit((), src / "lib.rs")
    return modules


def split_use_tree(tree):
    """`a::{b, c::{d, e}}` → ['a::b', 'a::c::d', 'a::c::e']."""
    tree = re.sub(r"\s+", "", tree)

    def expand(prefix, t):
        if "{" not in t:
            return [prefix + t]
        i = t.index("{")
        head, body = t[:i], t[i + 1: -1]
        parts, depth, cur = [], 0, ""
        for ch in body:
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            depth += ch == "{"
            depth -= ch == "}"
            cur += ch
        if cur:
            parts.append(cur)
        out = []
        for p in parts:
            out.extend(expand(prefix + head, p))
        return out

    return [p.split(" as ")[0] for p in expand("", tree) if p]


def resolve(module, path, modules):
    """The module a path names, from inside `module`."""
    segs = path.replace(" ", "").split("::")
    if segs[0] == "crate":
        base, rest = (), segs[1:]
    else:
        base = module
        rest = segs
        while rest and rest[0] in ("super", "self"):
            if rest[0] == "super":
                base = base[:-1]
            rest = rest[1:]
    best = base
    for i in range(1, len(rest) + 1):
        cand = base + tuple(rest[:i])
        if cand in modules:
            best = cand
    return best


def edges_of(module, file, modules):
    text = strip_test_modules(strip_comments(file.read_text()))
    out = set()
    for vis, tree in USE_RE.findall(text):
        for path in split_use_tree(tree):
            if not re.match(r"(crate|super|self)(::|$)", path):
                continue
            target = resolve(module, path, modules)
            # A facade: a module re-exporting its own descendants.
            if vis and target[: len(module)] == module and target != module:
                continue
            out.add(target)
    body = USE_RE.sub("", text)
    for path in PATH_RE.findall(body):
        out.add(resolve(module, path, modules))
    out.discard(module)
    # A module naming its own descendant without `use` (e.g. `child::f()`)
    # is below it already; only edges upward or sideways can form cycles,
    # but descendants are kept so that a child importing its parent and the
    # parent calling into the child is reported.
    return out


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            strong(v)
    return out


def name(m):
    return "crate::" + "::".join(m) if m else "crate"


def check(src, runtime_rules, show):
    modules = discover(src)
    graph = {m: edges_of(m, f, modules) for m, f in modules.items()}
    # A module's edges to its own ancestors are through `super::` paths to
    # items the ancestor defines; an ancestor's edges to a descendant (calls
    # such as `child::f()`) make the pair a cycle only if both exist, which
    # is what we want to report.
    problems = []
    for comp in cycles(graph):
        problems.append(f"{src}: import cycle: " + " ↔ ".join(name(m) for m in comp))
    if runtime_rules:
        for m, targets in graph.items():
            if not m:
                continue
            banned = runtime_rules.get(m[0], set())
            for t in targets:
                if t and t[0] in banned and t[0] != m[0]:
                    problems.append(f"{src}: layer rule: {name(m)} imports {name(t)} "
                                    f"(`{m[0]}` must not import `{t[0]}`)")
    if show:
        for m in sorted(graph):
            print(f"{name(m)} -> {', '.join(sorted(name(t) for t in graph[m])) or '-'}")
    return problems


def main(argv):
    show = "--graph" in argv
    dirs = [Path(a) for a in argv if not a.startswith("--")]
    if not dirs:
        dirs = [ROOT / "featurestore-core/src", ROOT / "featurestore-macros/src",
                ROOT / "featurestore-runtime/src"]
    problems = []
    for d in dirs:
        if not (d / "lib.rs").exists():
            continue
        problems += check(d, RUNTIME_RULES if "runtime" in str(d) else None, show)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s)")
        return 1
    print("layers: no import cycle, no layer rule broken in " + ", ".join(
        str(d.relative_to(ROOT)) if d.is_absolute() else str(d) for d in dirs if (d / "lib.rs").exists()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
