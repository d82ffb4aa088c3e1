"""List the code a bundle's configs would run, and what of it falls outside an allowlist.

A MONAI bundle config is a program: every ``$`` string is Python evaluated with ``eval``/``exec`` (``$import``
lines included), every ``_target_`` is imported and called, and a ``%file#key`` macro pulls in another file. A
received bundle is therefore audited before anything in it is parsed by MONAI: each such entry is parsed with
``ast`` (never evaluated) and checked against

- ``ALLOWED_MODULES``: dotted prefixes a name may resolve to (``monai``, ``torch``, ``numpy``, ``math``, ``ignite``,
  ``os.path`` and our packages ``networks``, ``transforms``, ``losses``, ``metrics``, ``engines``);
- ``SAFE_BUILTINS``: builtins without side effects (``len``, ``range``, ``dict``, ...); not ``open``, ``eval``,
  ``exec``, ``getattr``, ``__import__``;
- ``DENIED``: calls inside allowed modules that load code or pickles, or download (``torch.hub``, ``torch.load``
  without ``weights_only=True``, ``numpy.load`` with ``allow_pickle``, ``monai.bundle.download``,
  ``monai.utils.optional_import``, ...). This list is a best effort, not a proof: an allowlist of modules narrows
  what a config can reach, it cannot make a hostile config safe.

Any dunder name or attribute (``__import__``, ``().__class__``) is refused. ``@id`` references are values the
config built itself, so attribute access and calls on them are allowed (except dunders).
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALLOWED_MODULES", "OUR_PACKAGES", "SAFE_BUILTINS", "DENIED", "Entry", "audit_config", "expression_roots",
]  # fmt: skip

OUR_PACKAGES = ("networks", "transforms", "losses", "metrics", "engines", "data", "formats", "inferers")
ALLOWED_MODULES = ("monai", "torch", "numpy", "math", "ignite", "os.path", *OUR_PACKAGES)
# names MONAI's ConfigParser puts in the globals of every expression (ConfigParser.__init__ default `globals`)
MONAI_GLOBALS = {"monai": "monai", "torch": "torch", "np": "numpy", "numpy": "numpy"}
SAFE_BUILTINS = frozenset(
    "abs all any bool dict enumerate filter float frozenset int isinstance len list map max min print range "
    "reversed round set slice sorted str sum tuple zip None True False".split()
)
# (dotted prefix, reason); `torch.load` / `numpy.load` are allowed when called safely (see `_unsafe_call`)
DENIED = (
    ("torch.hub", "downloads and runs code"),
    ("torch.package", "unpickles code"),
    ("torch.jit.load", "loads a TorchScript program"),
    ("torch.utils.cpp_extension", "compiles and loads native code"),
    ("torch.ops.load_library", "loads native code"),
    ("torch.classes.load_library", "loads native code"),
    ("torch.utils.model_zoo", "downloads"),
    ("numpy.ctypeslib", "loads native code"),
    ("numpy.lib.format.read_array", "may unpickle"),
    ("monai.bundle.download", "downloads"),
    ("monai.bundle.load", "downloads and loads"),
    ("monai.bundle.run", "runs another config"),
    ("monai.bundle.ConfigParser", "parses and runs another config"),
    ("monai.bundle.ConfigWorkflow", "runs another config"),
    ("monai.apps.download", "downloads"),
    ("monai.apps.utils", "downloads"),
    ("monai.utils.optional_import", "imports any module by name"),
    ("monai.utils.module", "imports any module by name"),
    ("monai.utils.locate", "imports any object by name"),
    ("monai.utils.instantiate", "calls any object by name"),
)
# MONAI replaces `@id` (ids use `#` or `::` between levels) by a lookup of the referenced value
_REFERENCE = re.compile(r"@\w*(?:(?:#|::)\w*)*")
_REF_NAME = "_ref_"


@dataclass(frozen=True)
class Entry:
    """One piece of code in a config: ``kind`` is ``expression``, ``import``, ``target`` or ``macro``; ``where`` is
    the config id (``infer#handlers#0#_target_``); ``problems`` is empty when it is inside the allowlist."""

    kind: str
    where: str
    text: str
    problems: tuple[str, ...]
    roots: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return not self.problems


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _allowed_module(name: str) -> bool:
    return any(_matches(name, p) for p in ALLOWED_MODULES)


def _parse(code: str) -> ast.AST:
    code = _REFERENCE.sub(_REF_NAME, code)
    try:
        return ast.parse(code, mode="eval")
    except SyntaxError:
        return ast.parse(code, mode="exec")  # `import x`, `from x import y`


def _bound_names(tree: ast.AST) -> set[str]:
    """Names an expression binds itself: lambda arguments, comprehension targets, walrus targets."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.comprehension, ast.NamedExpr)):
            for t in ast.walk(node.target):
                if isinstance(t, ast.Name):
                    names.add(t.id)
    return names


def _imports(tree: ast.AST) -> list[tuple[str, str]]:
    """(bound name, full module or object path) of every import statement."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out.append((a.asname or a.name.split(".")[0], a.name if a.asname else a.name.split(".")[0]))
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                out.append((a.asname or a.name, f"{'.' * node.level}{node.module or ''}.{a.name}"))
    return out


def _unsafe_call(call: ast.Call, target: str) -> str | None:
    kwargs = {k.arg: k.value for k in call.keywords if k.arg}
    if _matches(target, "torch.load") or target == "torch.serialization.load":
        wo = kwargs.get("weights_only")
        if not (isinstance(wo, ast.Constant) and wo.value is True):
            return f"{target} without weights_only=True can unpickle code"
    if _matches(target, "numpy.load"):
        ap = kwargs.get("allow_pickle")
        if ap is not None and not (isinstance(ap, ast.Constant) and ap.value is False):
            return f"{target} with allow_pickle can unpickle code"
    return None


def _resolve(name: str, aliases: dict[str, str]) -> str:
    root, _, rest = name.partition(".")
    full = aliases.get(root, root)
    return f"{full}.{rest}" if rest else full


def expression_roots(code: str) -> set[str]:
    """Top-level module names an expression or import statement refers to (used to find the packages to ship)."""
    try:
        tree = _parse(code)
    except SyntaxError:
        return set()
    roots = {full.lstrip(".").split(".")[0] for _, full in _imports(tree)}
    local = _bound_names(tree) | {_REF_NAME}
    roots |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in local}
    return roots


def _check_code(code: str, aliases: dict[str, str]) -> list[str]:
    try:
        tree = _parse(code)
    except SyntaxError as e:
        return [f"not valid Python ({e.msg})"]
    problems: list[str] = []
    for _, full in _imports(tree):
        module = full.lstrip(".")
        if full.startswith("."):
            problems.append(f"relative import {full!r}")
        elif not (_allowed_module(module) or any(p.startswith(module + ".") for p in ALLOWED_MODULES)):
            problems.append(f"imports {module!r}, outside the allowlist")
    local = _bound_names(tree) | {_REF_NAME}
    inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    chains = []  # outermost attribute chains rooted at a Name: `torch.nn.Conv2d`, `os.path.join`, `len`
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("__"):
            problems.append(f"dunder attribute {node.attr!r}")
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            problems.append(f"dunder name {node.id!r}")
        if isinstance(node, (ast.Attribute, ast.Name)) and id(node) not in inner:
            dotted = _dotted(node)
            if dotted is not None:
                chains.append(dotted)
    for dotted in chains:
        root = dotted.split(".")[0]
        if root in local or root.startswith("__"):
            continue
        full = _resolve(dotted, aliases)
        if root in aliases or _allowed_module(full):
            if not _allowed_module(full):
                problems.append(f"{full!r} is outside the allowlist")
            for prefix, reason in DENIED:
                if _matches(full, prefix) or full.startswith(prefix):
                    problems.append(f"{full!r} {reason}")
        elif root in SAFE_BUILTINS:
            continue
        else:
            problems.append(f"name {root!r} is outside the allowlist")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            dotted = _dotted(node.func)
            if dotted:
                reason = _unsafe_call(node, _resolve(dotted, aliases))
                if reason:
                    problems.append(reason)
    return list(dict.fromkeys(problems))


@functools.lru_cache(maxsize=None)
def _component_locator():
    import importlib

    from monai.bundle.config_item import ComponentLocator

    for module in ("monai.transforms", "monai.networks", "monai.losses", "monai.metrics", "monai.data",
                   "monai.inferers", "monai.engines", "monai.handlers", "monai.optimizers"):  # fmt: skip
        try:
            importlib.import_module(module)
        except Exception:  # an optional dependency of one MONAI sub-package is missing
            continue
    locator = ComponentLocator()
    return locator


@functools.lru_cache(maxsize=None)
def _monai_component(name: str) -> str | None:
    """Module of a bare ``_target_`` name as MONAI's ComponentLocator resolves it (None when MONAI has none: MONAI
    would then fall back to ``pydoc.locate``, which finds builtins such as ``eval``)."""
    found = _component_locator().get_component_module_name(name)
    if isinstance(found, list):
        found = found[0] if found else None
    return found


def _walk(config: Any, where: str = "") -> Iterator[tuple[str, Any, bool]]:
    """(config id, value, is _target_) of every string in a config."""
    if isinstance(config, dict):
        for k, v in config.items():
            sub = f"{where}#{k}" if where else str(k)
            if k == "_target_" and isinstance(v, str):
                yield sub, v, True
            else:
                yield from _walk(v, sub)
    elif isinstance(config, list):
        for i, v in enumerate(config):
            yield from _walk(v, f"{where}#{i}" if where else str(i))
    elif isinstance(config, str):
        yield where, config, False


def audit_config(config: Any) -> list[Entry]:
    """Every ``$`` expression, ``$import``, ``_target_`` and file macro of a (merged) config, each with the reasons it
    falls outside the allowlist (none when allowed). Nothing is evaluated."""
    strings = list(_walk(config))
    aliases = dict(MONAI_GLOBALS)
    entries: list[Entry] = []
    # imports first: MONAI evaluates them into the globals of every expression
    for where, value, is_target in strings:
        code = value[1:] if value.startswith("$") else None
        if code is None or is_target:
            continue
        try:
            tree = _parse(code)
        except SyntaxError:
            continue
        statements = tree.body if isinstance(tree, ast.Module) else []
        if statements and all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in statements):
            problems = _check_code(code, aliases)
            entries.append(Entry("import", where, value, tuple(problems), tuple(expression_roots(code))))
            if not problems:
                for name, full in _imports(tree):
                    aliases[name] = full
    for where, value, is_target in strings:
        if is_target:
            if value.startswith("$"):
                problems = _check_code(value[1:], aliases)
                entries.append(Entry("target", where, value, tuple(problems), tuple(expression_roots(value[1:]))))
            elif value.startswith("@"):
                entries.append(Entry("target", where, value, ()))
            elif "." in value:
                problems = [] if _allowed_module(_resolve(value, aliases)) else [f"{value!r} is outside the allowlist"]
                problems += [f"{value!r} {r}" for p, r in DENIED if _matches(_resolve(value, aliases), p)]
                entries.append(Entry("target", where, value, tuple(problems), (value.split(".")[0],)))
            else:
                module = _monai_component(value)
                problems = [] if module else [f"{value!r} is not a MONAI component (MONAI would locate it anywhere)"]
                entries.append(Entry("target", where, value, tuple(problems), ("monai",) if module else ()))
        elif value.startswith("$"):
            if any(e.where == where and e.kind == "import" for e in entries):
                continue
            code = value[1:]
            problems = _check_code(code, aliases)
            entries.append(Entry("expression", where, value, tuple(problems), tuple(expression_roots(code))))
        elif value.startswith("%"):
            path = value[1:].split("#")[0].split("::")[0]
            if path:
                entries.append(Entry("macro", where, value, (f"loads another file {path!r}",)))
    return entries
