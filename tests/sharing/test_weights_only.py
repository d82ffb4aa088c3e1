"""Checkpoints are always loaded with `weights_only=True`: in our Python code, in the bundle configs, and in the MONAI /
Ignite code the configs and the export commands call."""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

import pytest
import yaml

from sharing.configs import ROOT
from sharing.weights_only import unsafe_loads_in_files, unsafe_loads_in_source

PY_FILES = sorted(p for p in ROOT.rglob("*.py") if not {".venv", "venv", "site-packages"} & set(p.parts))
CONFIG_FILES = sorted(ROOT.glob("bundles/**/*.yaml")) + sorted(ROOT.glob("bundles/**/*.json"))


def _strings(node):
    if isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)
    elif isinstance(node, str):
        yield node


def test_scanner_flags_unsafe_loads():
    source = (
        "import torch\nfrom torch import load as L\n"
        "torch.load(p)\nL(p, weights_only=False)\ntorch.load(p, weights_only=True)\n"
    )
    assert unsafe_loads_in_source(source, "x.py") == ["x.py:3: torch.load(p)", "x.py:4: L(p, weights_only=False)"]


def test_repository_python_loads_weights_only():
    assert len(PY_FILES) > 50
    assert unsafe_loads_in_files(PY_FILES) == []


def test_repository_configs_load_weights_only():
    hits = []
    for f in CONFIG_FILES:
        for s in _strings(yaml.safe_load(f.read_text())):
            if s.startswith("$") and "load(" in s:
                hits += [f"{f}: {h}" for h in unsafe_loads_in_source(s[1:].replace("@", "_ref_"), str(f))]
    assert hits == []


def _loads_in(obj) -> list[ast.Call]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    return [
        n for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "load"
        and isinstance(n.func.value, ast.Name) and n.func.value.id == "torch"
    ]  # fmt: skip


@pytest.mark.parametrize(
    "where",
    [
        "monai.handlers.CheckpointLoader.__call__",
        "ignite.handlers.Checkpoint.load_objects",
        "monai.bundle.scripts._export",
    ],
)
def test_third_party_loaders_we_use_pass_weights_only(where):
    """The bundles' CheckpointLoader (inference, evaluation, resume via engines.LatestCheckpointHandler) and the
    export commands (ckpt_export/onnx_export load through ignite's Checkpoint.load_objects) pass weights_only=True."""
    import importlib

    module_name, *attrs = where.split(".")
    obj = importlib.import_module(module_name)
    for i, attr in enumerate(attrs):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            obj = importlib.import_module(".".join([module_name, *attrs[: i + 1]]))
    calls = _loads_in(obj)
    if where.endswith("_export"):  # _export loads through ignite unless ignite is missing
        assert "Checkpoint.load_objects" in inspect.getsource(obj)
    assert calls, f"{where}: no torch.load found (MONAI/Ignite changed: check how it loads now)"
    for call in calls:
        wo = next((k.value for k in call.keywords if k.arg == "weights_only"), None)
        assert isinstance(wo, ast.Constant) and wo.value is True, f"{where}: {ast.unparse(call)}"


def test_bundle_configs_load_checkpoints_with_monai_checkpoint_loader():
    """Every checkpoint a config loads goes through MONAI's CheckpointLoader (checked above; our
    engines.LatestCheckpointHandler attaches one for --resume), never a bare load."""
    targets = []
    for f in CONFIG_FILES:
        text = f.read_text()
        targets += [line.strip() for line in text.splitlines() if "_target_" in line and "Checkpoint" in line]
    allowed = {f"{dash}_target_: {name}" for dash in ("", "- ")
               for name in ("CheckpointLoader", "CheckpointSaver", "engines.AtomicCheckpointSaver",
                                 "engines.LatestCheckpointHandler")}  # fmt: skip
    assert targets and set(targets) <= allowed, targets
    from engines import checkpoint

    source = inspect.getsource(checkpoint)
    assert "CheckpointLoader(" in source and unsafe_loads_in_source(source) == []
