"""The import graph of the four packages: no cycle, no package reaching into another's private
names, and every arrow along the layers of docs/design.md (studies above encoding, spectral
and simulate; simulate above spectral; encoding and spectral never import each other).

Imports are read from the source (module level and inside functions alike), so a cycle hidden
in a function counts as one. No library file is over 500 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("spectral", "encoding", "simulate", "studies")
#: package -> the packages it may import
ALLOWED = {"spectral": set(), "encoding": set(), "simulate": {"spectral"},
           "studies": {"spectral", "encoding", "simulate"}}


def _modules(root: Path, packages) -> dict[str, Path]:
    out = {}
    for pkg in packages:
        for f in (root / pkg).rglob("*.py"):
            parts = f.relative_to(root).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def import_edges(root: Path, packages=PACKAGES) -> list[tuple[str, str, str, int]]:
    """``(module, imported module, imported name or '', line)`` for every import of one of
    ``packages`` inside them."""
    modules = _modules(root, packages)
    edges = []
    for mod, path in modules.items():
        here = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                edges += [(mod, a.name, "", node.lineno) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[:len(here) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module
                for a in node.names:
                    sub = f"{target}.{a.name}"
                    edges.append((mod, sub, "", node.lineno) if sub in modules
                                 else (mod, target, a.name, node.lineno))
    return [e for e in edges if e[1].split(".")[0] in packages]


def cycles(edges) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for src, dst, _, _ in edges:
        if src != dst and not src.startswith(dst + "."):  # a package's own __init__ is no arrow
            graph.setdefault(src, set()).add(dst)
            graph.setdefault(dst, set())
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
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
                found.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def private_reaches(edges) -> list[str]:
    """Imports of another package's private module or name."""
    out = []
    for src, dst, name, line in edges:
        if src.split(".")[0] != dst.split(".")[0] and (
                any(p.startswith("_") for p in dst.split(".")[1:]) or name.startswith("_")):
            out.append(f"{src}:{line} imports {dst}{'.' + name if name else ''}")
    return out


def layer_violations(edges) -> list[str]:
    out = []
    for src, dst, name, line in edges:
        a, b = src.split(".")[0], dst.split(".")[0]
        if a != b and b not in ALLOWED[a]:
            out.append(f"{src}:{line} imports {dst} ({a} -> {b} is against the layers)")
    return out


@pytest.fixture(scope="module")
def edges():
    return import_edges(ROOT)


def test_no_import_cycle(edges):
    assert cycles(edges) == []


def test_no_package_imports_another_packages_private_names(edges):
    assert private_reaches(edges) == []


def test_every_arrow_follows_the_layers(edges):
    assert layer_violations(edges) == []
    assert any(e[0].startswith("studies") and e[1].startswith("encoding") for e in edges)


def test_the_design_document_states_the_layers_the_test_holds():
    design = (ROOT / "docs" / "design.md").read_text()
    assert ("Imports point one way: `studies` → `encoding`, `spectral`, `simulate`; `simulate` "
            "may use\n`spectral`; `encoding` and `spectral` never import each other.") in design


def test_the_checks_find_a_cycle_a_private_reach_and_a_wrong_arrow(tmp_path):
    """The checks themselves, on a small tree that breaks each rule once."""
    def write(path, text):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)

    write("spectral/__init__.py", "from ._a import f\n")
    write("spectral/_a.py", "def f():\n    from ._b import g\n")
    write("spectral/_b.py", "from ._a import f\n")
    write("encoding/__init__.py", "")
    write("encoding/x.py", "from spectral._a import f\n")
    write("simulate/__init__.py", "")
    write("studies/__init__.py", "import simulate\n")
    found = import_edges(tmp_path)
    assert cycles(found) == [["spectral._a", "spectral._b"]]
    assert private_reaches(found) == ["encoding.x:1 imports spectral._a.f"]
    assert layer_violations(found) == [
        "encoding.x:1 imports spectral._a (encoding -> spectral is against the layers)"]


def test_no_library_file_is_over_500_lines():
    long = {str(f.relative_to(ROOT)): n for pkg in PACKAGES for f in (ROOT / pkg).rglob("*.py")
            if (n := len(f.read_text().splitlines())) > 500}
    assert long == {}


def test_the_functions_the_design_document_gives_a_device_take_one():
    """docs/design.md: "`device="cuda"` (or any torch device) on `lowest_levels`, `gap_sweep`,
    `min_gap` and `simulate.anneal`" -- each of them takes ``device``, and "auto" turns to the
    torch backend at the bit count the document states."""
    import inspect
    import re

    import simulate
    import spectral
    from spectral._levels import AUTO_TORCH_MIN_BITS

    design = (ROOT / "docs" / "design.md").read_text()
    sentence = re.search(r"One GPU: `device=\"cuda\"` \(or any torch device\) on (.*?) runs",
                         design, re.S).group(1)
    names = re.findall(r"`([\w.]+)`", sentence)
    assert names == ["lowest_levels", "gap_sweep", "min_gap", "simulate.anneal"]
    for name in names:
        func = getattr(simulate, name.split(".")[1]) if "." in name else getattr(spectral, name)
        assert "device" in inspect.signature(func).parameters, name
    bits = re.search(r"`\"auto\"` takes the torch backend from (\d+) bits", design).group(1)
    assert int(bits) == AUTO_TORCH_MIN_BITS
