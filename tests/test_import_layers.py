"""Imports point one way, and no recovery method reaches into another method's module.

The rules (docs/ARCHITECTURE.md, and the project's standards):
- no cycle between the top-level units of `pregan` (its subpackages: simulation, data,
  models, evaluation, tuning, ...; and its top-level modules: experiment, tracking, io);
- layers: `simulation` imports nothing of data / models / evaluation, `data` nothing of
  models / evaluation, `models` nothing of evaluation;
- a recovery method's module (the `_target_` of a conf/model/*.yaml) imports no other
  method's module: what two methods share lives where both can import it.

Every import statement in src/ counts, those inside functions too: a deferred import still
ties the two parts together. Each failure lists every offending import with its file and
line. The units and the method modules are read from the tree and the configs, so a new
subpackage or method is covered without touching this file.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from omegaconf import OmegaConf

REPO_ROOT = Path(__file__).resolve().parents[1]
SRC = REPO_ROOT / "src"
PACKAGE = "pregan"  # the distribution maps `pregan` onto src/
LAYERS = ("simulation", "data", "models", "evaluation")  # bottom to top


@dataclass(frozen=True)
class Edge:
    """One import: module `src` (at file:line) imports module `dst`."""

    src: str
    dst: str
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.src} imports {self.dst}"


def module_name(path: Path) -> str:
    """src/a/b.py -> pregan.a.b; src/a/__init__.py -> pregan.a."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])


def imported_modules(path: Path) -> list[tuple[str, int]]:
    """(dotted module, line) of every import of `pregan` in the file, relative ones resolved;
    `from pkg import name` yields pkg.name (name may be a module or an attribute: both belong
    to pkg's subtree, which is all the rules look at)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    out: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            out += [(f"{module}.{alias.name}", node.lineno) for alias in node.names]
    return [(m, line) for m, line in out if m == PACKAGE or m.startswith(PACKAGE + ".")]


def all_edges() -> list[Edge]:
    edges = []
    for path in sorted(SRC.rglob("*.py")):
        src = module_name(path)
        for dst, line in imported_modules(path):
            edges.append(Edge(src, dst, str(path.relative_to(REPO_ROOT)), line))
    return edges


def unit(module: str) -> str | None:
    """The top-level unit of a pregan module (pregan.models.x -> models); None for `pregan`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def units() -> set[str]:
    """Subpackages and top-level modules of src/."""
    found = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    found |= {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    return found


def cycles(edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components of more than one unit (Tarjan), each sorted."""
    graph: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        a, b = unit(e.src), unit(e.dst)
        if a and b and a != b:
            graph[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def method_modules() -> dict[str, str]:
    """conf/model/<name>.yaml -> the module of its `_target_` class (a config without one
    takes it from the model config its defaults list extends, e.g. pregan_online -> pregan)."""
    folder = REPO_ROOT / "conf" / "model"

    def target_of(name: str) -> str:
        cfg = OmegaConf.load(folder / f"{name}.yaml")
        if cfg.get("_target_"):
            return str(cfg._target_)
        parents = [d for d in cfg.get("defaults", []) if isinstance(d, str) and d != "_self_"]
        assert parents, f"{folder / name}.yaml: no _target_ and no parent model config"
        return target_of(parents[0])

    return {p.stem: target_of(p.stem).rsplit(".", 1)[0] for p in sorted(folder.glob("*.yaml"))}


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def violations(rule: str) -> list[str]:
    """Human-readable violations of one rule (empty: the rule holds)."""
    edges = all_edges()
    if rule == "no-cycle":
        out = []
        for component in cycles(edges):
            where: dict[tuple[str, str], list[str]] = defaultdict(list)
            for e in edges:
                a, b = unit(e.src), unit(e.dst)
                if a in component and b in component and a != b:
                    place = f"{e.file}:{e.line}"
                    if place not in where[a, b]:
                        where[a, b].append(place)
            lines = [f"{a} -> {b}: {', '.join(p)}" for (a, b), p in sorted(where.items())]
            out.append(f"cycle between {' / '.join(component)}:\n    " + "\n    ".join(lines))
        return out
    if rule.startswith("layer:"):
        layer = rule.split(":", 1)[1]
        above = LAYERS[LAYERS.index(layer) + 1 :]
        return [
            f"{e}  ({layer} must not import {unit(e.dst)})"
            for e in edges
            if unit(e.src) == layer and unit(e.dst) in above
        ]
    if rule == "methods-independent":
        methods = method_modules()
        out = []
        for e in edges:
            for name, module in methods.items():
                if not within(e.src, module):
                    continue
                for other, other_module in methods.items():
                    if other_module != module and within(e.dst, other_module):
                        out.append(f"{e}  (method {name} reaches into method {other})")
        return out
    raise ValueError(f"unknown rule {rule!r}")


RULES = ["no-cycle", *(f"layer:{layer}" for layer in LAYERS[:-1]), "methods-independent"]


@pytest.mark.parametrize("rule", RULES)
def test_import_rule(rule: str) -> None:
    found = violations(rule)
    assert not found, f"{rule}: {len(found)} violation(s)\n  " + "\n  ".join(found)


def test_the_walker_sees_the_layers_and_methods() -> None:
    """Guards the test itself: an empty walk or a missed unit would pass every rule."""
    edges = all_edges()
    assert set(LAYERS) <= units(), units()
    seen = {unit(e.src) for e in edges}
    assert set(LAYERS) <= seen, f"no imports found from {set(LAYERS) - seen}"
    assert any(unit(e.src) == "data" and unit(e.dst) == "simulation" for e in edges), (
        "data -> simulation (allowed, known to exist) was not found"
    )
    methods = method_modules()
    assert {"pregan", "evacuate", "pcft"} <= set(methods), methods
    for name, module in methods.items():
        path = SRC.joinpath(*module.split(".")[1:]).with_suffix(".py")
        assert path.is_file(), f"method {name}: {path} not found"


def test_the_checks_catch_what_they_are_for() -> None:
    """The cycle finder and the edge parser on made-up input."""
    fake = [
        Edge("pregan.a.x", "pregan.b.y", "f", 1),
        Edge("pregan.b.y", "pregan.c", "f", 2),
        Edge("pregan.c", "pregan.a.z", "f", 3),
    ]
    assert unit("pregan.models.recovery.pregan") == "models"
    assert cycles(fake) == [["a", "b", "c"]]
    assert cycles(fake[:2]) == []
