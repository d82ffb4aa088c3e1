"""Counts that say how the configs and packages are composed (issue 16's before/after figures):

- lines of evaluate/inference/multi-GPU files that only forward a train key (``x: "%.../train.yaml#x"``),
- ``DistributedSampler`` declarations in YAML,
- ``$`` expressions in YAML (every string value starting with ``$``, ``imports`` included),
- ``%`` macros in YAML,
- import cycles among our modules (imports at module level or inside functions; a package __init__ is a module),
- copies of the overlay: modules of our packages that draw image slices themselves (call matplotlib's ``imshow``,
  ``contour``, ``contourf`` or ``pcolormesh``); each such module carries its own orientation, intensity window,
  mask colours and, so far, its own Dice. One drawing module is the goal (``engines/overlay/figures.py``).

Run from the repository root: ``python scripts/config_metrics.py``.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("networks", "transforms", "losses", "metrics", "engines", "data", "formats", "inferers", "experiments",
            "sharing")  # fmt: skip
_FORWARD = re.compile(r'^(\s*)([\w#]+):\s*"?%[^"#]*/train\.yaml#([\w#]+)"?\s*(#.*)?$')


def yaml_files() -> list[Path]:
    return sorted(p for p in (ROOT / "bundles").rglob("*.yaml"))


def forwarding_lines() -> int:
    count = 0
    for path in yaml_files():
        if path.name == "train.yaml":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            m = _FORWARD.match(line)
            if m and m.group(2) == m.group(3):
                count += 1
    return count


def _strings(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)
    elif isinstance(node, str):
        yield node


def yaml_counts() -> tuple[int, int, int]:
    samplers = expressions = macros = 0
    for path in yaml_files():
        text = path.read_text(encoding="utf-8")
        samplers += len(re.findall(r"_target_:\s*[\w.]*DistributedSampler\b", text))
        for s in _strings(yaml.safe_load(text) or {}):
            expressions += s.startswith("$")
            macros += s.startswith("%")
    return samplers, expressions, macros


def _module_name(py: Path) -> str:
    parts = list(py.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> our modules it imports, at module level or inside a function (a deferred import that closes a
    cycle is still a cycle: the two modules cannot be understood, tested or moved apart)."""
    modules = {
        _module_name(py): py for pkg in PACKAGES if (ROOT / pkg).is_dir() for py in (ROOT / pkg).rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, py in modules.items():
        package = name if py.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != name:
                    deps.add(t)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


_DRAWING_CALLS = frozenset({"imshow", "contour", "contourf", "pcolormesh"})


def overlay_modules() -> list[str]:
    """Modules of our packages that call a slice-drawing function of matplotlib (``ax.imshow(...)``, ...)."""
    found = []
    for pkg in PACKAGES:
        for py in sorted((ROOT / pkg).rglob("*.py")) if (ROOT / pkg).is_dir() else ():
            for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
                call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                if call and node.func.attr in _DRAWING_CALLS:
                    found.append(_module_name(py))
                    break
    return found


def main() -> int:
    samplers, expressions, macros = yaml_counts()
    found = cycles(import_graph())
    print(f"lines forwarding a train key in other workflow files: {forwarding_lines()}")
    print(f"DistributedSampler declarations in YAML: {samplers}")
    print(f"$ expressions in YAML: {expressions}")
    print(f"% macros in YAML: {macros}")
    print(f"YAML lines: {sum(len(p.read_text().splitlines()) for p in yaml_files())}")
    print(f"import cycles: {len(found)}" + (f" {found}" if found else ""))
    overlays = overlay_modules()
    print(f"overlay copies (modules drawing image slices): {len(overlays)} {overlays}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
