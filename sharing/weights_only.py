"""Find ``torch.load`` calls that may unpickle code: every checkpoint must be loaded with ``weights_only=True``.

Checked in Python files (by ``ast``) and in config strings (``$torch.load(...)``). MONAI's ``CheckpointLoader`` (the
bundles' handler), ``monai.bundle.ckpt_export``/``onnx_export`` (via ignite ``Checkpoint.load_objects``) pass
``weights_only=True`` themselves; ``tests/sharing/test_weights_only.py`` checks their source so an upgrade that
changes that is noticed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

__all__ = ["unsafe_loads_in_source", "unsafe_loads_in_files"]


def _is_torch_load(func: ast.AST, load_names: set[str]) -> bool:
    if isinstance(func, ast.Attribute) and func.attr == "load":
        base = func.value
        return isinstance(base, ast.Name) and base.id == "torch" or (
            isinstance(base, ast.Attribute) and base.attr == "serialization"
        )
    return isinstance(func, ast.Name) and func.id in load_names


def unsafe_loads_in_source(source: str, filename: str = "<string>") -> list[str]:
    """``"<file>:<line>: <call>"`` for each ``torch.load`` call without the literal ``weights_only=True``."""
    tree = ast.parse(source, filename=filename)
    load_names = {
        a.asname or a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module in ("torch", "torch.serialization")
        for a in n.names
        if a.name == "load"
    }
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _is_torch_load(node.func, load_names):
            wo = next((k.value for k in node.keywords if k.arg == "weights_only"), None)
            if not (isinstance(wo, ast.Constant) and wo.value is True):
                out.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return out


def unsafe_loads_in_files(files: Iterable[str | Path]) -> list[str]:
    return [hit for f in files for hit in unsafe_loads_in_source(Path(f).read_text(encoding="utf-8"), str(f))]
