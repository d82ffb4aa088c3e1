"""The config audit lists code outside the allowlist (without evaluating anything) and passes our own bundles."""

from __future__ import annotations

import pytest

from sharing.audit import audit_config
from sharing.configs import ROOT, bundle_config_files, flatten_config

HOSTILE = [
    ({"x": "$__import__('os').system('touch pwned')"}, "x", "dunder name '__import__'"),
    ({"x": {"_target_": "subprocess.run", "args": ["ls"]}}, "x#_target_", "module 'subprocess' is not trusted"),
    ({"imports": ["$import subprocess"]}, "imports#0", "module 'subprocess' is not trusted"),
    ({"imports": ["$from os import system"]}, "imports#0", "'os.system': only os.path may be used from os"),
    ({"imports": ["$import os"], "x": "$os.system('ls')"}, "x", "'os.system': only os.path may be used from os"),
    ({"x": "$open('/etc/passwd').read()"}, "x", "name 'open' is not on the allowlist"),
    ({"x": "$getattr(torch, 'hub')"}, "x", "name 'getattr' is not on the allowlist"),
    ({"x": "$().__class__.__base__.__subclasses__()"}, "x", "dunder attribute '__subclasses__'"),
    ({"x": "$torch.hub.load('owner/repo', 'model')"}, "x", "'torch.hub.load' is not on the allowlist"),
    ({"x": "$torch.load(@ckpt)"}, "x", "torch.load without weights_only=True"),
    ({"x": "$torch.load(@ckpt, weights_only=False)"}, "x", "weights_only must be the literal True"),
    ({"x": "$numpy.load(@f, allow_pickle=True)"}, "x", "allow_pickle must be the literal False"),
    ({"x": "$monai.utils.optional_import('os')[0].system('ls')"}, "x", "'monai.utils.optional_import' is not on the allowlist"),
    ({"x": {"_target_": "eval", "source": "1"}}, "x#_target_", "not a MONAI component"),
    ({"x": {"_target_": "torch.hub.load"}}, "x#_target_", "'torch.hub.load' is not on the allowlist"),
    ({"x": "%/etc/other.yaml#key"}, "x", "loads another file"),
    ({"x": "$torch.os.system('ls')"}, "x", "'torch.os' is the module 'os' reached through 'torch'"),
    ({"x": "$torch.nn"}, "x", "the module 'torch.nn' is used as a value"),
    ({"m": "$numpy", "x": "$@m.f2py.os.system('ls')"}, "x", "'numpy.f2py.os' is the module 'os'"),
    ({"x": "$torch.nn.Conv2d.mro()[-1]"}, "x", "'torch.nn.Conv2d.mro' is not on the allowlist"),
    ({"x": "$@net.forward.__globals__"}, "x", "private or dunder attribute '__globals__'"),
    ({"x": {"_target_": "DiceLoss", "_mode_": "debug"}}, "x#_mode_", "debug starts pdb"),
    ({"x": {"_target_": "DiceLoss", "_debug_": True}}, "x#_debug_", "starts a debugger"),
    ({"x": {"_target_": "monai.data.NumpyReader", "allow_pickle": True}}, "x#_target_", "allow_pickle must be"),
    ({"x": {"_target_": "DiceLoss", "reduction": "{0.__class__}"}}, "x#reduction", "holds a dunder name"),
    ({"x": {"_target_": "optional_import"}}, "x#_target_", "'monai.utils.module.optional_import' is not on"),
]

ALLOWED = [
    "$import torch",
    "$import numpy as np",
    "$torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')",
    "$@network_def.to(@device)",
    "$[{'image': d['image']} for d in @data#test_files[:@max_cases]]",
    "$lambda out: [o['pred'] for o in out]",
    "$torch.load(@ckpt, weights_only=True)",
    "$os.path.join(@dataset_dir, 'images')",
    "$math.ceil(len(@files) / 2)",
    "$np.zeros(3)",
    "$isinstance(@x, torch.Tensor)",
    "$monai.utils.LossReduction.MEAN",
    "$monai.transforms.Lambda(func=torch.nn.functional.relu)",
    "$[@net.parameters(), @net.modules()]",
    "$formats.brats2020.readers.KeepSlicesd",
]


@pytest.mark.parametrize("config, where, problem", HOSTILE, ids=[str(c)[:60] for c, _, _ in HOSTILE])
def test_hostile_entries_are_listed(config, where, problem):
    refused = [e for e in audit_config(config) if not e.allowed]
    assert any(e.where == where and any(problem in p for p in e.problems) for e in refused), refused


@pytest.mark.parametrize("expression", ALLOWED)
def test_allowed_entries_pass(expression):
    config = {"imports": ["$import os", "$import math", "$import transforms", "$import formats"], "x": expression}
    assert [e for e in audit_config(config) if not e.allowed] == []


def test_bare_monai_targets_and_our_packages_pass():
    config = {"a": {"_target_": "DiceLoss"}, "b": {"_target_": "engines.SegmentationOverlayHandler"}, "c": "@a"}
    entries = audit_config(config)
    assert [e.kind for e in entries] == ["target", "target", "reference"] and all(e.allowed for e in entries)


BUNDLES = sorted(p.parents[1].name for p in ROOT.glob("bundles/*/configs/metadata.json"))


@pytest.mark.parametrize("bundle", BUNDLES)
def test_repository_bundles_audit_clean(bundle):
    """Our own configs stay inside the allowlist, so a packaged bundle verifies without --trust."""
    base = "bundles/liver_improved_skip_unet" if bundle == "liver_fcn8s" else None
    for workflow, files in bundle_config_files(ROOT / "bundles" / bundle, base=base).items():
        entries = audit_config(flatten_config(files))
        assert len(entries) > 20
        assert [(e.where, e.text, e.problems) for e in entries if not e.allowed] == [], f"{bundle} {workflow}"
