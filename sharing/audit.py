"""Audit the code a bundle's configs would run: every name is resolved to the object it denotes, and only an explicit
allowlist of objects passes.

A MONAI bundle config is a program: every ``$`` string is Python evaluated with ``eval``/``exec`` (``$import``
lines included), every ``_target_`` is located (``pydoc.locate``: it imports and walks attributes) and called, and
an ``@id`` reference hands the value of another entry (``@_meta_#...`` one of ``metadata.json``) to an expression.
A received bundle is audited before MONAI parses anything in it. Nothing of the bundle is evaluated: each ``$``
string is parsed with ``ast`` and interpreted *abstractly*:

- a name is an ``$import`` alias or a MONAI global (``monai``, ``torch``, ``np``/``numpy``), a builtin of
  ``SAFE_BUILTINS``, a lambda/comprehension variable, or a reference; anything else is refused;
- an attribute of a module is resolved in the receiver's own installed copy: the trusted libraries
  (``TRUSTED_ROOTS``: monai, torch, numpy, ignite, math) and our packages (``OUR_PACKAGES``, imported from this
  repository, never from the bundle). A module reached this way must be a genuine submodule
  (``torch.nn`` is, ``torch.os`` is ``os`` re-exported and is refused); any other object must be on the object
  allowlist (``allowed_object``): MONAI transforms, networks, losses, metrics, handlers, engines, inferers, data;
  torch.nn modules and functional, torch.optim optimizers and lr_schedulers, torch.utils.data classes; ignite
  metrics, engine, handlers; numpy scalar types; math; a few pure torch/numpy/os.path functions; the public names
  (``__all__``) of our packages and their modules; the builtins of ``SAFE_BUILTINS``;
- a value that is a module is refused unless it is the base of an attribute (``$torch`` alone, ``[torch]``,
  ``(m := torch)``, ``f(torch)``): a module handed on as a value could be walked later where we cannot see it;
- a reference (``@id``) takes the abstract value of the entry it names (``$`` expressions are followed, a
  ``_target_`` component is an instance of an allowed class); attribute access on such runtime values is allowed
  for public names only (no ``_``-prefixed name, no ``format``), so ``m: "$torch"`` then ``"$@m.os.system()"`` is
  refused twice (``$torch`` is a module used as a value; ``@m.os`` is ``os`` reached through ``torch``);
- keyword ``weights_only`` must be the literal ``True`` and ``allow_pickle`` the literal ``False`` wherever they
  appear (calls and ``_target_`` components); ``_mode_`` must be a literal ``default``/``callable``/``partial``
  (``debug`` starts pdb) and ``_debug_`` is refused; a macro may not name a file; no string anywhere may contain a
  dunder name (MONAI functions such as ``look_up_named_module`` walk dotted attribute names given as strings).

This is an allowlist, not a proof: an allowed object can be misused through its arguments (``SaveImaged`` writes
where its ``output_dir`` says) and a runtime value's public attributes are not resolved. docs/sharing.md states
what it guarantees.
"""

from __future__ import annotations

import ast
import builtins
import enum
import functools
import importlib
import inspect
import math
import os
import posixpath
import re
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "OUR_PACKAGES", "TRUSTED_ROOTS", "SAFE_BUILTINS", "RUNTIME_DENIED", "Entry", "audit_config", "allowed_object",
    "expression_roots",
]  # fmt: skip

# The ONE list of our code packages (packaged with a bundle, compared with the receiver's copy, allowed in configs).
OUR_PACKAGES = ("networks", "transforms", "losses", "metrics", "engines", "data", "formats", "inferers")
TRUSTED_ROOTS = ("monai", "torch", "numpy", "ignite", "math", *OUR_PACKAGES)
_ROOT = Path(__file__).resolve().parents[1]
# names MONAI's ConfigParser puts in the globals of every expression (monai.bundle.config_parser._default_globals)
MONAI_GLOBALS = {"monai": "monai", "torch": "torch", "np": "numpy", "numpy": "numpy"}
SAFE_BUILTINS = frozenset(
    "abs all any bool dict enumerate filter float frozenset int isinstance len list map max min print range "
    "reversed round set slice sorted str sum tuple zip".split()
)
# MONAI sub-packages whose classes and functions are allowed (besides the denied ones below)
MONAI_NAMESPACES = (
    "monai.transforms", "monai.networks", "monai.losses", "monai.metrics", "monai.handlers", "monai.engines",
    "monai.inferers", "monai.data", "monai.optimizers",
)  # fmt: skip
# objects inside those namespaces that walk attributes by name, (un)pickle, or load/write programs
MONAI_DENIED = (
    "monai.networks.utils.look_up_named_module", "monai.networks.utils.set_named_module",
    "monai.networks.utils.convert_to_torchscript", "monai.networks.utils.convert_to_onnx",
    "monai.networks.utils.convert_to_trt", "monai.data.utils.pickle_operations",
    "monai.data.torchscript_utils.load_net_with_metadata", "monai.data.torchscript_utils.save_net_with_metadata",
)  # fmt: skip
# pure functions outside the namespaces above that configs may use (torch.load / numpy.load: see _CALL_RULES)
EXPLICIT = (
    "torch.device", "torch.cuda.is_available", "torch.cuda.device_count", "torch.cat", "torch.stack",
    "torch.sigmoid", "torch.softmax", "torch.argmax", "torch.where", "torch.tensor", "torch.as_tensor",
    "torch.zeros", "torch.ones", "torch.distributed.get_world_size", "torch.distributed.get_rank",
    "torch.distributed.is_initialized", "torch.load", "torch.manual_seed", "torch.Tensor",
    "numpy.array", "numpy.asarray", "numpy.zeros", "numpy.ones", "numpy.arange", "numpy.linspace", "numpy.load",
    "numpy.dtype", "monai.utils.set_determinism",
    "os.path.join", "os.path.basename", "os.path.dirname", "os.path.splitext", "os.path.exists", "os.path.isfile",
    "os.path.isdir", "os.path.normpath", "os.path.abspath", "os.path.relpath",
)  # fmt: skip
# attribute names refused on runtime values (defence in depth: those values are not resolved, see docs/sharing.md)
RUNTIME_DENIED = frozenset(
    "mro os sys system popen spawnv subprocess pickle builtins globals exec eval load loads locate "
    "optional_import instantiate import_module f_globals f_locals f_back f_builtins f_code gi_frame gi_code "
    "cr_frame ag_frame tb_frame tb_next co_code".split()
)
_MODES = ("default", "callable", "partial")
# MONAI replaces `@id` (ids use `#` or `::` between levels) by a lookup of the referenced value
_REFERENCE = re.compile(r"@\w*(?:(?:#|::)\w*)*")
_DUNDER = re.compile(r"__\w+__")
_PLACEHOLDER = "_ref_{}_"


@dataclass(frozen=True)
class Entry:
    """One piece of code in a config: ``kind`` is ``expression``, ``import``, ``target``, ``macro``, ``reference``,
    ``string`` or ``key``; ``where`` is the config id (``infer#handlers#0#_target_``); ``problems`` is empty when it
    is inside the allowlist."""

    kind: str
    where: str
    text: str
    problems: tuple[str, ...]
    roots: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return not self.problems


class _Refused(Exception):
    pass


class _Unknown:
    """A value only known at run time (a call result, a component instance, a lambda argument, data)."""

    def __repr__(self) -> str:
        return "<runtime value>"


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class _Obj:
    obj: Any
    path: str


# ---------------------------------------------------------------------------------------------------- allowlist


def _trusted_module_name(name: str) -> bool:
    return name.split(".")[0] in TRUSTED_ROOTS or name in ("os", "os.path", posixpath.__name__)


def _import(name: str) -> types.ModuleType:
    """Import a trusted module from the receiver's installation (our packages only from this repository)."""
    if not _trusted_module_name(name):
        raise _Refused(f"module {name!r} is not trusted (trusted: {', '.join(TRUSTED_ROOTS)}, os.path)")
    try:
        module = importlib.import_module(name)
    except ImportError as e:
        raise _Refused(f"module {name!r} cannot be imported here ({e})") from None
    if name.split(".")[0] in OUR_PACKAGES:
        file = Path(getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", [""])), ""))
        if _ROOT not in file.resolve().parents:
            raise _Refused(f"module {name!r} is imported from {file}, not from this repository ({_ROOT})")
    return module


def _object_ids(dotted_names) -> set[int]:
    """ids of the objects named ``module.name`` (names that do not import are left out)."""
    ids = set()
    for dotted in dotted_names:
        module, _, name = dotted.rpartition(".")
        try:
            ids.add(id(getattr(importlib.import_module(module), name)))
        except (ImportError, AttributeError):
            continue
    return ids


@functools.lru_cache(maxsize=None)
def _explicit_ids() -> frozenset[int]:
    return frozenset({id(getattr(builtins, n)) for n in SAFE_BUILTINS} | _object_ids(EXPLICIT))


@functools.lru_cache(maxsize=None)
def _denied_ids() -> frozenset[int]:
    return frozenset(_object_ids(MONAI_DENIED))


def _subclass(obj: Any, base_path: str) -> bool:
    module, _, name = base_path.rpartition(".")
    try:
        base = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return False
    return inspect.isclass(obj) and issubclass(obj, base)


def allowed_object(obj: Any, owner: Any = None, name: str | None = None) -> bool:
    """Whether a callable or class may be used by a config. ``owner``/``name``: the module (or class) and attribute it
    was reached through (a public name of one of our modules is allowed by its ``__all__``)."""
    if isinstance(owner, types.ModuleType) and owner.__name__.split(".")[0] in OUR_PACKAGES:
        if name in getattr(owner, "__all__", ()):
            return True
    if id(obj) in _explicit_ids():
        return True
    if id(obj) in _denied_ids() or getattr(obj, "__name__", "_").startswith("_"):
        return False
    module = getattr(obj, "__module__", None) or ""
    is_code = inspect.isclass(obj) or inspect.isfunction(obj)
    if module.startswith(MONAI_NAMESPACES) and is_code:
        return True
    if module.startswith("monai.") and inspect.isclass(obj) and issubclass(obj, enum.Enum):
        return True
    if module.startswith("torch.nn") and (_subclass(obj, "torch.nn.Module") or module == "torch.nn.functional"):
        return callable(obj)
    if module.startswith("torch.optim") and (
        _subclass(obj, "torch.optim.Optimizer") or (inspect.isclass(obj) and module == "torch.optim.lr_scheduler")
    ):
        return True
    if module.startswith("torch.utils.data") and inspect.isclass(obj):
        return True
    if module.startswith(("ignite.metrics", "ignite.engine", "ignite.handlers")) and inspect.isclass(obj):
        return True
    if _subclass(obj, "numpy.generic"):
        return True
    if module == "math" and callable(obj):
        return True
    # a public method of an allowed class (classmethod, staticmethod, enum member) defined in a trusted library
    defined_in = (getattr(obj, "__module__", None) or "").split(".")[0]
    return inspect.isclass(owner) and name is not None and defined_in in TRUSTED_ROOTS and allowed_object(owner)


def _is_data(obj: Any) -> bool:
    return not (isinstance(obj, types.ModuleType) or callable(obj))


def _check_attr_name(attr: str) -> None:
    if attr.startswith("_"):
        raise _Refused(f"private or dunder attribute {attr!r}")
    if attr in ("format", "format_map"):
        raise _Refused(f"attribute {attr!r} (a format string can read any attribute)")


def _attribute(owner: Any, attr: str) -> Any:
    """The abstract value of ``owner.attr``; raises _Refused naming the object."""
    _check_attr_name(attr)
    if not isinstance(owner, _Obj):
        if attr in RUNTIME_DENIED:
            raise _Refused(f"attribute {attr!r} of a runtime value (reaches modules, frames or loaders)")
        return UNKNOWN  # a public attribute of a runtime value
    path = f"{owner.path}.{attr}"
    base = owner.obj
    if isinstance(base, types.ModuleType):
        if base is os and attr != "path":
            raise _Refused(f"{path!r}: only os.path may be used from os")
        if not hasattr(base, attr):
            value = _import(f"{base.__name__}.{attr}")  # a submodule not imported yet (pydoc.locate does the same)
        else:
            value = getattr(base, attr)
        if isinstance(value, types.ModuleType):
            genuine = value.__name__ == f"{base.__name__}.{attr}" or (base is os and attr == "path")
            if not genuine:
                raise _Refused(f"{path!r} is the module {value.__name__!r} reached through {owner.path!r}")
            if not _trusted_module_name(value.__name__):
                raise _Refused(f"{path!r} is the module {value.__name__!r}, not trusted")
            return _Obj(value, path)
        if _is_data(value) or allowed_object(value, base, attr):
            return _Obj(value, path)
        raise _Refused(f"{path!r} is not on the allowlist")
    try:
        value = getattr(base, attr)
    except AttributeError:
        raise _Refused(f"{path!r} does not exist") from None
    if isinstance(value, types.ModuleType):
        raise _Refused(f"{path!r} is the module {value.__name__!r} reached through {owner.path!r}")
    if inspect.isclass(base) or callable(base):
        if _is_data(value) or allowed_object(value, base, attr):
            return _Obj(value, path)
        raise _Refused(f"{path!r} is not on the allowlist")
    if _is_data(value) or isinstance(base, (int, float, str, bytes, tuple, bool, complex)):
        return _Obj(value, path)
    ours = (type(base).__module__ or "").split(".")[0] in OUR_PACKAGES
    if ours and (getattr(value, "__module__", None) or "").split(".")[0] in OUR_PACKAGES:
        return _Obj(value, path)  # a public method of one of our objects (``formats.FORMATS.open``): our own code
    raise _Refused(f"{path!r}: a method of {type(base).__name__} data is not on the allowlist")


def resolve_dotted(name: str, aliases: dict[str, _Obj] | None = None) -> _Obj:
    """The object a dotted name denotes (a ``_target_``, as ``pydoc.locate`` finds it), checked step by step."""
    root, *rest = name.split(".")
    if aliases and root in aliases:
        value = aliases[root]
    else:
        if root not in TRUSTED_ROOTS and root != "os":
            raise _Refused(f"{name!r}: module {root!r} is not trusted (trusted: {', '.join(TRUSTED_ROOTS)})")
        value = _Obj(_import(root), root)
    for attr in rest:
        value = _attribute(value, attr)
    return value


# -------------------------------------------------------------------------------------------- abstract evaluator


def _bind_targets(target: ast.AST, scope: set[str]) -> None:
    for n in ast.walk(target):
        if isinstance(n, ast.Name):
            scope.add(n.id)


class _Evaluator:
    """Abstract interpretation of one ``$`` string; ``problems`` collects every reason to refuse."""

    def __init__(self, audit: _Audit, refs: dict[str, str]):
        self.audit = audit
        self.refs = refs  # placeholder -> config id
        self.problems: list[str] = []
        self.scopes: list[set[str]] = [set()]

    def refuse(self, problem: str) -> Any:
        if problem not in self.problems:
            self.problems.append(problem)
        return UNKNOWN

    def value(self, node: ast.AST, base: bool = False) -> Any:
        try:
            result = self._value(node)
        except _Refused as e:
            return self.refuse(str(e))
        if isinstance(result, _Obj) and isinstance(result.obj, types.ModuleType) and not base:
            return self.refuse(f"the module {result.path!r} is used as a value (only its attributes may be used)")
        return result

    def _local(self, name: str) -> bool:
        return any(name in s for s in self.scopes)

    def _value(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str) and _DUNDER.search(node.value):
                raise _Refused(f"string {node.value!r} holds a dunder name")
            return UNKNOWN
        if isinstance(node, ast.Name):
            if node.id in self.refs:
                return self.audit.reference_value(self.refs[node.id])
            if self._local(node.id):
                return UNKNOWN
            if node.id.startswith("_"):
                raise _Refused(f"private or dunder name {node.id!r}")
            if node.id in self.audit.aliases:
                return self.audit.aliases[node.id]
            if node.id in SAFE_BUILTINS:
                return _Obj(getattr(builtins, node.id), node.id)
            raise _Refused(f"name {node.id!r} is not on the allowlist")
        if isinstance(node, ast.Attribute):
            return _attribute(self.value(node.value, base=True), node.attr)
        if isinstance(node, ast.Call):
            func = self.value(node.func)
            for a in node.args:
                self.value(a)
            for k in node.keywords:
                if k.arg is None:
                    self.value(k.value)
                    continue
                if k.arg.startswith("_"):
                    self.refuse(f"private keyword {k.arg!r}")
                self._keyword_rule(k.arg, k.value)
                self.value(k.value)
            if isinstance(func, _Obj):
                self._call_rule(func, node)
            return UNKNOWN
        if isinstance(node, ast.Subscript):
            container = self.value(node.value)
            self.value(node.slice)
            if isinstance(container, _Obj) and isinstance(container.obj, (dict, list, tuple)):
                items = container.obj.values() if isinstance(container.obj, dict) else container.obj
                if any(not _is_data(v) for v in items):
                    raise _Refused(f"{container.path!r}[...]: holds modules or callables")
            return UNKNOWN
        if isinstance(node, ast.Lambda):
            for d in [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]:
                self.value(d)
            self.scopes.append({a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)})
            self.value(node.body)
            self.scopes.pop()
            return UNKNOWN
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            scope: set[str] = set()
            self.scopes.append(scope)
            for gen in node.generators:
                self.value(gen.iter)
                _bind_targets(gen.target, scope)
                for cond in gen.ifs:
                    self.value(cond)
            for elt in (node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,):
                self.value(elt)
            self.scopes.pop()
            return UNKNOWN
        if isinstance(node, ast.NamedExpr):
            self.value(node.value)
            self.scopes[-1].add(node.target.id)
            return UNKNOWN
        if isinstance(node, (ast.Await, ast.Yield, ast.YieldFrom)):
            raise _Refused(f"{type(node).__name__} is not allowed")
        if isinstance(node, ast.expr_context):
            return UNKNOWN
        for child in ast.iter_child_nodes(node):  # operators, containers, f-strings, comparisons, slices
            self.value(child)
        return UNKNOWN

    def _keyword_rule(self, arg: str, value: ast.AST) -> None:
        literal = value.value if isinstance(value, ast.Constant) else None
        if arg == "weights_only" and literal is not True:
            self.refuse("weights_only must be the literal True (a pickle can run code)")
        if arg == "allow_pickle" and literal is not False:
            self.refuse("allow_pickle must be the literal False (a pickle can run code)")

    def _call_rule(self, func: _Obj, node: ast.Call) -> None:
        import numpy
        import torch

        kwargs = {k.arg for k in node.keywords}
        if func.obj is torch.load and "weights_only" not in kwargs:
            self.refuse(f"{func.path} without weights_only=True can unpickle code")
        if func.obj is numpy.load and len(node.args) > 2:
            self.refuse(f"{func.path}: allow_pickle given by position")


# ------------------------------------------------------------------------------------------------- config audit


def _walk(config: Any, where: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(config id, key, value) of every entry of a config, depth first."""
    if isinstance(config, dict):
        for k, v in config.items():
            sub = f"{where}#{k}" if where else str(k)
            yield sub, k, v
            yield from _walk(v, sub)
    elif isinstance(config, list):
        for i, v in enumerate(config):
            sub = f"{where}#{i}" if where else str(i)
            yield sub, i, v
            yield from _walk(v, sub)


def _absolute_refs(where: str, text: str) -> str:
    from monai.bundle import ConfigParser

    if "@#" not in text and "@::" not in text:
        return text
    return ConfigParser.resolve_relative_ids(where.replace("#", "::"), text.replace("#", "::"))


def _lookup(config: Any, ref_id: str) -> tuple[bool, Any]:
    node = config
    for part in re.split(r"#|::", ref_id) if ref_id else []:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def _parse(code: str) -> tuple[ast.AST, dict[str, str]]:
    refs: dict[str, str] = {}

    def sub(m: re.Match) -> str:
        name = _PLACEHOLDER.format(len(refs))
        refs[name] = m.group(0)[1:].replace("::", "#")
        return name

    code = _REFERENCE.sub(sub, code)
    try:
        return ast.parse(code.strip(), mode="eval"), refs
    except SyntaxError:
        return ast.parse(code.strip(), mode="exec"), refs  # `import x`, `from x import y`


def _imports(tree: ast.AST) -> list[tuple[str, str, str | None]]:
    """(bound name, module, imported attribute or None) of every import statement."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out.append((a.asname or a.name.split(".")[0], a.name, None))
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                out.append((a.asname or a.name, "." * node.level + (node.module or ""), a.name))
    return out


def expression_roots(code: str) -> set[str]:
    """Top-level module names an expression or import statement refers to (used to find the packages to ship)."""
    try:
        tree, refs = _parse(code)
    except SyntaxError:
        return set()
    roots = {module.lstrip(".").split(".")[0] for _, module, _ in _imports(tree)}
    bound = {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)} | set(refs)
    for n in ast.walk(tree):
        if isinstance(n, (ast.comprehension, ast.NamedExpr)):
            bound |= {t.id for t in ast.walk(n.target) if isinstance(t, ast.Name)}
    return roots | {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in bound}


@functools.lru_cache(maxsize=None)
def _component_locator():
    from monai.bundle.config_item import ComponentLocator

    for module in ("monai.transforms", "monai.networks", "monai.losses", "monai.metrics", "monai.data",
                   "monai.inferers", "monai.engines", "monai.handlers", "monai.optimizers"):  # fmt: skip
        try:
            importlib.import_module(module)
        except Exception:  # an optional dependency of one MONAI sub-package is missing
            continue
    return ComponentLocator()


def _bare_target(name: str) -> _Obj:
    """A ``_target_`` without a dot as MONAI resolves it: a MONAI component (the first if several), otherwise
    ``pydoc.locate`` (a builtin such as ``eval``, or any importable module): refused."""
    found = _component_locator().get_component_module_name(name)
    if isinstance(found, list):
        found = found[0] if found else None
    if not found:
        raise _Refused(f"{name!r} is not a MONAI component (MONAI would locate it anywhere, e.g. builtins)")
    return resolve_dotted(f"{found}.{name}")


class _Audit:
    def __init__(self, config: Any):
        self.config = config
        self.aliases: dict[str, _Obj] = {}
        self._refs: dict[str, Any] = {}
        self._busy: set[str] = set()
        for name, module in MONAI_GLOBALS.items():
            try:
                self.aliases[name] = _Obj(_import(module), module)
            except _Refused:
                continue

    def reference_value(self, ref_id: str) -> Any:
        """Abstract value of the entry ``@ref_id`` names (UNKNOWN when it is data or only known at run time)."""
        if ref_id in self._refs:
            return self._refs[ref_id]
        if ref_id in self._busy:
            return UNKNOWN  # a cycle: MONAI refuses it
        self._busy.add(ref_id)
        found, value = _lookup(self.config, ref_id)
        result: Any = UNKNOWN
        if found and isinstance(value, str) and value.startswith("$"):
            result = self.expression(ref_id, _absolute_refs(ref_id, value)[1:])[0]
        elif found and isinstance(value, str) and _REFERENCE.fullmatch(value):
            result = self.reference_value(value[1:].replace("::", "#"))
        elif found and isinstance(value, dict) and value.get("_mode_") == "callable" and "_target_" in value:
            result = self.target(value["_target_"])[0]
        self._busy.discard(ref_id)
        self._refs[ref_id] = result
        return result

    def expression(self, where: str, code: str) -> tuple[Any, list[str]]:
        try:
            tree, refs = _parse(code)
        except SyntaxError as e:
            return UNKNOWN, [f"not valid Python ({e.msg})"]
        if not isinstance(tree, ast.Expression):
            return UNKNOWN, ["not an expression (MONAI evaluates `$` strings with eval)"]
        ev = _Evaluator(self, refs)
        value = ev.value(tree.body, base=True)  # the value itself is kept: a reference to it is followed
        if isinstance(value, _Obj) and isinstance(value.obj, types.ModuleType):
            ev.refuse(f"the module {value.path!r} is used as a value (only its attributes may be used)")
        return value, ev.problems

    def imports(self, code: str) -> tuple[list[str], dict[str, _Obj]]:
        tree, _ = _parse(code)
        problems, bound = [], {}
        for name, module, attr in _imports(tree):
            try:
                if module.startswith("."):
                    raise _Refused(f"relative import {module!r}")
                if name.startswith("_"):
                    raise _Refused(f"private name {name!r}")
                target = _Obj(_import(module), module)
                if attr is not None:
                    value = _attribute(target, attr)
                elif name == module.split(".")[0]:
                    value = resolve_dotted(name) if name != "os" else _Obj(os, "os")
                else:  # `import a.b as x`
                    value = target
                bound[name] = value
            except _Refused as e:
                problems.append(str(e))
        return problems, bound

    def target(self, value: Any) -> tuple[Any, list[str]]:
        if not isinstance(value, str):
            return UNKNOWN, [f"_target_ must be a string, not {type(value).__name__}"]
        try:
            if value.startswith("$"):
                return self.expression("", value[1:])
            if value.startswith("@"):
                result = self.reference_value(value[1:].replace("::", "#"))
                if isinstance(result, _Obj) and isinstance(result.obj, types.ModuleType):
                    raise _Refused(f"{value!r} is the module {result.path!r}")
                return result, []
            if _DUNDER.search(value):
                raise _Refused(f"{value!r} holds a dunder name")
            if "." in value:
                result = resolve_dotted(value, None)
            else:
                result = _bare_target(value)
            if isinstance(result.obj, types.ModuleType):
                raise _Refused(f"{value!r} is the module {result.obj.__name__!r}, not a class or function")
            return result, []
        except _Refused as e:
            return UNKNOWN, [str(e)]


def _is_import(code: str) -> bool:
    try:
        tree, _ = _parse(code)
    except SyntaxError:
        return False
    body = tree.body if isinstance(tree, ast.Module) else []
    return bool(body) and all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in body)


def audit_config(config: Any, skip: tuple[str, ...] = ()) -> list[Entry]:
    """Every ``$`` expression, ``$import``, ``_target_``, reference, macro and special key (``_mode_``,
    ``_debug_``, ``_requires_``, ``_disabled_``) of a config, each with the reasons it falls outside the allowlist
    (none when allowed). Nothing is evaluated. A config id starting with one of ``skip`` is used for references but
    not listed (``_meta_`` when metadata.json is audited on its own).

    Args:
        config: the config as read by ``yaml.safe_load`` (with ``_meta_`` when references to it should resolve).
        skip: config id prefixes not to list.

    Returns:
        the entries in config order (imports first).
    """
    audit = _Audit(config)
    items = [(w, k, v) for w, k, v in _walk(config)]
    listed = [(w, k, v) for w, k, v in items if not any(w == s or w.startswith(s + "#") for s in skip)]
    entries: list[Entry] = []
    imports: dict[str, Entry] = {}
    for where, _key, value in items:  # imports first: MONAI evaluates them into the globals of every expression
        if isinstance(value, str) and value.startswith("$") and _is_import(value[1:]):
            problems, bound = audit.imports(value[1:])
            imports[where] = Entry("import", where, value, tuple(problems), tuple(expression_roots(value[1:])))
            if not problems:
                audit.aliases.update(bound)
    for where, key, value in listed:
        if where in imports:
            entries.append(imports[where])
            continue
        problems: list[str] = []
        if key == "_debug_":
            entries.append(Entry("key", where, str(value), ("key '_debug_' starts a debugger",)))
            continue
        if key == "_target_":
            problems = audit.target(_absolute_refs(where, value) if isinstance(value, str) else value)[1]
            parent = _lookup(config, where.rpartition("#")[0])[1] if "#" in where else config
            if isinstance(parent, dict):
                for k, literal, rule in (("weights_only", True, "True"), ("allow_pickle", False, "False")):
                    if k in parent and parent[k] is not literal:
                        problems.append(f"{k} must be the literal {rule} (a pickle can run code)")
            root = value.split(".")[0] if isinstance(value, str) and not value.startswith(("$", "@")) else ""
            roots = tuple(expression_roots(value[1:])) if isinstance(value, str) and value.startswith("$") else ()
            entries.append(Entry("target", where, str(value), tuple(problems), roots or ((root,) if "." in str(value)
                                                                                         else ("monai",))))
            continue
        if key == "_mode_":
            if value not in _MODES:
                problems.append(f"_mode_ {value!r}: only the literal {', '.join(_MODES)} (debug starts pdb)")
            entries.append(Entry("key", where, str(value), tuple(problems)))
            continue
        if not isinstance(value, str):
            continue
        if value.startswith("$"):
            code = _absolute_refs(where, value)[1:] if "@" in value else value[1:]
            problems = audit.expression(where, code)[1]
            entries.append(Entry("expression", where, value, tuple(problems), tuple(expression_roots(value[1:]))))
        elif value.startswith("%"):
            from monai.bundle import ConfigParser

            path, _ = ConfigParser.split_path_id(value[1:])
            problems = [f"loads another file {path!r}"] if path else []
            if _DUNDER.search(value):
                problems.append(f"{value!r} holds a dunder name")
            entries.append(Entry("macro", where, value, tuple(problems)))
        elif value.startswith("@"):
            if _DUNDER.search(value):
                problems.append(f"{value!r} holds a dunder name")
            ref = audit.reference_value(_absolute_refs(where, value)[1:].replace("::", "#"))
            if isinstance(ref, _Obj) and isinstance(ref.obj, types.ModuleType):
                problems.append(f"{value!r} is the module {ref.path!r}")
            entries.append(Entry("reference", where, value, tuple(problems)))
        elif _DUNDER.search(value):
            entries.append(Entry("string", where, value, (f"string {value!r} holds a dunder name",)))
    return entries
