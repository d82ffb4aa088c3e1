"""Red team: hostile bundles, made as a hostile sender would (a packaged unet bundle, changed, with every hash and the
code manifest recomputed), must be refused with a reason naming the file and the entry, and no payload may run:
neither during verification nor in the inference command a user runs (scripts/run_received_bundle.py).

Every payload tries to create the file MARKER in the test's folder."""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
import torch
import yaml

from sharing.audit import OUR_PACKAGES
from sharing.configs import ROOT
from sharing.hashing import HASH_KEY, UNHASHED, bundle_files, hash_files
from sharing.manifest import CODE_KEY
from sharing.verify import verify_bundle
from tests.sharing.tiny_bundle import cli, package_tiny_unet

@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    """A packaged unet bundle (random weights of the tiny network), unpacked once for the module."""
    out = tmp_path_factory.mktemp("red_team")
    archive = package_tiny_unet(out)
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(out / "clean")
    return out / "clean" / "unet"


def _rehash(bundle: Path) -> None:
    """What a hostile packager does: record the hashes (and the code manifest) of the hostile files."""
    meta_file = bundle / "configs" / "metadata.json"
    meta = json.loads(meta_file.read_text())
    meta[HASH_KEY] = hash_files(bundle, [f for f in bundle_files(bundle) if f not in UNHASHED])
    packages = sorted({*meta[CODE_KEY]["packages"], *(p.name for p in bundle.iterdir() if p.name in OUR_PACKAGES)})
    files = [f for f in bundle_files(bundle) if f.split("/")[0] in packages]
    meta[CODE_KEY] = {"packages": packages, "sha256": hash_files(bundle, files)}
    meta_file.write_text(json.dumps(meta, indent=4))


def _edit_config(bundle: Path, change, name: str = "inference.yaml") -> None:
    path = bundle / "configs" / name
    config = yaml.safe_load(path.read_text())
    change(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def _edit_meta(bundle: Path, change) -> None:
    path = bundle / "configs" / "metadata.json"
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta, indent=4))


def _first(payload):
    """Put ``payload`` first in ``initialize`` (MONAI's run evaluates it before anything else)."""
    return lambda c: c.__setitem__("initialize", [payload, *c.get("initialize", [])])


class Evil:
    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def _touch(marker: Path) -> str:
    return f"touch {marker}"


# (id, change(bundle, marker), file named, entry named, problem substring)
CONFIG_CASES = [
    # modules re-exported by allowed modules
    ("torch.os", lambda b, m: _edit_config(b, _first(f"$torch.os.system('{_touch(m)}')")),
     "configs/inference.yaml", "initialize#0", "'torch.os' is the module 'os' reached through 'torch'"),
    ("monai.config.deviceconfig.os", lambda b, m: _edit_config(
        b, _first(f"$monai.config.deviceconfig.os.system('{_touch(m)}')")),
     "configs/inference.yaml", "initialize#0", "is the module 'os' reached through 'monai.config.deviceconfig'"),
    ("numpy.lib._datasource.os", lambda b, m: _edit_config(
        b, _first(f"$numpy.lib._datasource.os.system('{_touch(m)}')")),
     "configs/inference.yaml", "initialize#0", "private or dunder attribute '_datasource'"),
    ("np.f2py.subprocess", lambda b, m: _edit_config(b, _first(f"$np.f2py.subprocess.run(['touch', '{m}'])")),
     "configs/inference.yaml", "initialize#0", "is the module 'subprocess' reached through 'numpy.f2py'"),
    ("torch.serialization.pickle", lambda b, m: _edit_config(b, _first(
        f"$torch.serialization.pickle.loads({pickle.dumps(Evil(_touch(m)))!r})")),
     "configs/inference.yaml", "initialize#0", "'torch.serialization.pickle' is the module 'pickle'"),
    # reference chains and values that are modules
    ("reference to a module", lambda b, m: _edit_config(
        b, lambda c: (c.__setitem__("m", "$torch"), _first(f"$@m.os.system('{_touch(m)}')")(c))),
     "configs/inference.yaml", "initialize#0", "'torch.os' is the module 'os'"),
    ("reference to a module, the entry itself", lambda b, m: _edit_config(
        b, lambda c: (c.__setitem__("m", "$torch"), _first(f"$@m.os.system('{_touch(m)}')")(c))),
     "configs/inference.yaml", "m", "the module 'torch' is used as a value"),
    ("reference chain through @ids", lambda b, m: _edit_config(b, lambda c: (
        c.__setitem__("m1", "$monai.utils"), c.__setitem__("m2", "@m1"),
        _first(f"$@m2.optional_import('os')[0].system('{_touch(m)}')")(c))),
     "configs/inference.yaml", "initialize#0", "'monai.utils.optional_import' is not on the allowlist"),
    ("_target_ reference to os.system", lambda b, m: _edit_config(b, lambda c: (
        c.__setitem__("f", "$torch.os.system"), _first({"_target_": "@f", "command": _touch(m)})(c))),
     "configs/inference.yaml", "f", "reached through 'torch'"),
    ("walrus", lambda b, m: _edit_config(b, _first(f"$[(t := torch), t.os.system('{_touch(m)}')]")),
     "configs/inference.yaml", "initialize#0", "the module 'torch' is used as a value"),
    ("lambda default", lambda b, m: _edit_config(b, _first(f"$(lambda t=torch: t.os.system('{_touch(m)}'))()")),
     "configs/inference.yaml", "initialize#0", "the module 'torch' is used as a value"),
    ("comprehension over modules", lambda b, m: _edit_config(
        b, _first(f"$[t.os.system('{_touch(m)}') for t in [torch]]")),
     "configs/inference.yaml", "initialize#0", "the module 'torch' is used as a value"),
    # import aliases
    ("import os as o", lambda b, m: _edit_config(
        b, lambda c: (c.__setitem__("imports", ["$import os as o"]), _first(f"$o.system('{_touch(m)}')")(c))),
     "configs/inference.yaml", "initialize#0", "'os.system': only os.path may be used from os"),
    ("from torch import os", lambda b, m: _edit_config(
        b, lambda c: (c.__setitem__("imports", ["$from torch import os"]), _first(f"$os.system('{_touch(m)}')")(c))),
     "configs/inference.yaml", "imports#0", "'torch.os' is the module 'os' reached through 'torch'"),
    ("import subprocess", lambda b, m: _edit_config(b, lambda c: (
        c.__setitem__("imports", ["$import subprocess"]),
        _first(f"$subprocess.run(['touch', '{m}'])")(c))),
     "configs/inference.yaml", "imports#0", "module 'subprocess' is not trusted"),
    # bare and dotted _target_
    ("bare _target_ eval", lambda b, m: _edit_config(
        b, _first({"_target_": "eval", "source": f"__import__('os').system('{_touch(m)}')"})),
     "configs/inference.yaml", "initialize#0#_target_", "'eval' is not a MONAI component"),
    ("dotted _target_ torch.os.system", lambda b, m: _edit_config(
        b, _first({"_target_": "torch.os.system", "command": _touch(m)})),
     "configs/inference.yaml", "initialize#0#_target_", "'torch.os' is the module 'os'"),
    ("dotted _target_ subprocess.run", lambda b, m: _edit_config(
        b, _first({"_target_": "subprocess.run", "args": ["touch", str(m)]})),
     "configs/inference.yaml", "initialize#0#_target_", "module 'subprocess' is not trusted"),
    ("_target_ walking attributes named in a string", lambda b, m: _edit_config(b, _first({
        "_target_": "monai.networks.utils.look_up_named_module", "name": "forward.__globals__", "mod": "@network"})),
     "configs/inference.yaml", "initialize#0#_target_", "'monai.networks.utils.look_up_named_module' is not on"),
    ("_mode_ debug", lambda b, m: _edit_config(b, lambda c: c["network_def"].__setitem__("_mode_", "debug")),
     "configs/inference.yaml", "network_def#_mode_", "debug starts pdb"),
    # builtins
    ("getattr", lambda b, m: _edit_config(b, _first(f"$getattr(torch, 'os').system('{_touch(m)}')")),
     "configs/inference.yaml", "initialize#0", "name 'getattr' is not on the allowlist"),
    ("__import__", lambda b, m: _edit_config(b, _first(f"$__import__('os').system('{_touch(m)}')")),
     "configs/inference.yaml", "initialize#0", "private or dunder name '__import__'"),
    ("eval", lambda b, m: _edit_config(b, _first(f"$eval(\"torch.os.system('{_touch(m)}')\")")),
     "configs/inference.yaml", "initialize#0", "name 'eval' is not on the allowlist"),
    ("exec", lambda b, m: _edit_config(b, _first(f"$exec(\"import os; os.system('{_touch(m)}')\")")),
     "configs/inference.yaml", "initialize#0", "name 'exec' is not on the allowlist"),
    ("compile", lambda b, m: _edit_config(b, _first(
        f"$eval(compile(\"torch.os.system('{_touch(m)}')\", 'x', 'eval'))")),
     "configs/inference.yaml", "initialize#0", "name 'compile' is not on the allowlist"),
    ("open", lambda b, m: _edit_config(b, _first(f"$open('{m}', 'w').write('x')")),
     "configs/inference.yaml", "initialize#0", "name 'open' is not on the allowlist"),
    ("bytes and pickle", lambda b, m: _edit_config(b, lambda c: (
        c.__setitem__("imports", ["$import pickle"]),
        _first(f"$pickle.loads(bytes({list(pickle.dumps(Evil(_touch(m))))}))")(c))),
     "configs/inference.yaml", "imports#0", "module 'pickle' is not trusted"),
    ("class hierarchy walk", lambda b, m: _edit_config(b, _first("$().__class__.__base__.__subclasses__()")),
     "configs/inference.yaml", "initialize#0", "private or dunder attribute '__class__'"),
    ("format string", lambda b, m: _edit_config(b, _first("$'{0.__class__}'.format(@network)")),
     "configs/inference.yaml", "initialize#0", "holds a dunder name"),
    ("torch.load without weights_only", lambda b, m: _edit_config(b, _first("$torch.load('models/model.pt')")),
     "configs/inference.yaml", "initialize#0", "torch.load without weights_only=True"),
    # payloads in metadata.json
    ("metadata payload referenced as @_meta_", lambda b, m: (
        _edit_meta(b, lambda meta: meta.__setitem__("payload", f"$torch.os.system('{_touch(m)}')")),
        _edit_config(b, _first("$@_meta_#payload"))),
     "configs/metadata.json", "payload", "'torch.os' is the module 'os'"),
    ("metadata payload (not referenced)", lambda b, m: _edit_meta(
        b, lambda meta: meta.__setitem__("network_data_format", {
            **meta["network_data_format"], "x": f"$__import__('os').system('{_touch(m)}')"})),
     "configs/metadata.json", "network_data_format#x", "private or dunder name '__import__'"),
    ("_meta_ inside a config", lambda b, m: _edit_config(b, lambda c: (
        c.__setitem__("_meta_", {"p": f"$torch.os.system('{_touch(m)}')"}), _first("$@_meta_#p")(c))),
     "configs/inference.yaml", "_meta_#p", "'torch.os' is the module 'os'"),
    # _requires_ / _disabled_
    ("_requires_", lambda b, m: _edit_config(
        b, lambda c: c["network_def"].__setitem__("_requires_", f"$torch.os.system('{_touch(m)}')")),
     "configs/inference.yaml", "network_def#_requires_", "'torch.os' is the module 'os'"),
    ("_disabled_", lambda b, m: _edit_config(
        b, lambda c: c["network_def"].__setitem__("_disabled_", f"$__import__('os').system('{_touch(m)}') != 0")),
     "configs/inference.yaml", "network_def#_disabled_", "private or dunder name '__import__'"),
    ("another config file", lambda b, m: (b / "configs" / "extra.json").write_text(json.dumps(
        {"run": [f"$numpy.f2py.os.system('{_touch(m)}')"]})),
     "configs/extra.json", "run#0", "reached through 'numpy.f2py'"),
    ("file macro", lambda b, m: _edit_config(b, lambda c: c.__setitem__("device", "%/etc/hostile.yaml#x")),
     "configs/inference.yaml", "device", "loads another file '/etc/hostile.yaml'"),
    # logging.conf
    ("logging FileHandler", lambda b, m: (b / "configs" / "logging.conf").write_text(
        (b / "configs" / "logging.conf").read_text().replace("class=StreamHandler", "class=FileHandler")
        .replace("args=(sys.stdout,)", f"args=('{m}', 'a')")),
     "configs/logging.conf", "[handler_consoleHandler] class", "handler class 'FileHandler'"),
    ("logging SocketHandler", lambda b, m: (b / "configs" / "logging.conf").write_text(
        (b / "configs" / "logging.conf").read_text().replace("class=StreamHandler", "class=handlers.SocketHandler")
        .replace("args=(sys.stdout,)", "args=('localhost', 9)")),
     "configs/logging.conf", "[handler_consoleHandler] class", "handler class 'handlers.SocketHandler'"),
    ("logging args expression", lambda b, m: (b / "configs" / "logging.conf").write_text(
        (b / "configs" / "logging.conf").read_text().replace(
            "args=(sys.stdout,)", f"args=(__import__('os').system('{_touch(m)}') or sys.stdout,)")),
     "configs/logging.conf", "[handler_consoleHandler] args", "only (sys.stdout,) or (sys.stderr,)"),
]

# shipped code: (id, change, file named, problem substring, is an error rather than a refusal)
CODE_CASES = [
    ("package __init__", lambda b, m: (b / "networks" / "__init__.py").write_text(
        (b / "networks" / "__init__.py").read_text() + f"\nimport os\nos.system('{_touch(m)}')\n"),
     "networks/__init__.py", "differs from this repository's copy", False),
    ("added module", lambda b, m: (b / "networks" / "evil.py").write_text(f"import os\nos.system('{_touch(m)}')\n"),
     "networks/evil.py", "added: not in this repository's copy", False),
    (".pth file", lambda b, m: (b / "networks" / "evil.pth").write_text(f"import os; os.system('{_touch(m)}')\n"),
     "networks/evil.pth", "added: not in this repository's copy", False),
    ("__pycache__", lambda b, m: (b / "networks" / "__pycache__").mkdir() or (
        b / "networks" / "__pycache__" / f"__init__.cpython-{sys.version_info[0]}{sys.version_info[1]}.pyc"
    ).write_bytes(b"\0" * 32),
     "networks/__pycache__/__init__.cpython", "added: not in this repository's copy", False),
    ("module shadowing a dependency", lambda b, m: (b / "yaml.py").write_text(f"import os\nos.system('{_touch(m)}')\n"),
     "yaml.py", "importable name outside our packages", True),
    ("package shadowing a dependency", lambda b, m: (b / "torch").mkdir() or (b / "torch" / "__init__.py").write_text(
        f"import os\nos.system('{_touch(m)}')\n"),
     "torch", "importable name outside our packages", True),
    # every one of our packages ships with a bundle now (losses: the deep-supervision loss), so a second package
    # carrying a payload is a changed copy of a shipped one
    ("second code package", lambda b, m: (b / "losses" / "__init__.py").write_text(
        f"import os\nos.system('{_touch(m)}')\n"),
     "losses/__init__.py", "differs from this repository's copy", False),
]


def _pickled_weights(bundle: Path, marker: Path) -> None:
    buffer = io.BytesIO()
    torch.save({"conv.weight": torch.zeros(1), "x": Evil(_touch(marker))}, buffer)
    (bundle / "models" / "model.pt").write_bytes(buffer.getvalue())


def _copy(clean: Path, tmp_path: Path) -> Path:
    bundle = tmp_path / "received" / "unet"
    shutil.copytree(clean, bundle)
    return bundle


def _assert_nothing_ran(bundle: Path, marker: Path, capsys) -> None:
    """The payload did not run in verification, and the documented inference command refuses to run."""
    assert not marker.exists(), "verification ran the payload"
    code = cli("run_received_bundle").main([str(bundle), "--", "--dataset_dir", str(bundle.parent)])
    assert code in (1, 2)
    assert "NOT RUN" in capsys.readouterr().err
    assert not marker.exists(), "the inference command ran the payload"
    assert not (bundle / "MARKER").exists() and not (Path.cwd() / "MARKER").exists()


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_hostile_config_is_refused(case, clean, tmp_path, capsys):
    _name, change, rel, where, problem = case
    bundle = _copy(clean, tmp_path)
    marker = tmp_path / "MARKER"
    change(bundle, marker)
    _rehash(bundle)
    result = verify_bundle(bundle)
    assert result.errors == [], "the hashes match: they prove integrity, not trust"
    assert result.exit_code == 2
    named = [(r, e.where, p) for r, e in result.refused for p in e.problems]
    assert any(r == rel and w == where and problem in p for r, w, p in named), named
    _assert_nothing_ran(bundle, marker, capsys)


@pytest.mark.parametrize("case", CODE_CASES, ids=[c[0] for c in CODE_CASES])
def test_hostile_code_is_refused(case, clean, tmp_path, capsys):
    _name, change, rel, problem, is_error = case
    bundle = _copy(clean, tmp_path)
    marker = tmp_path / "MARKER"
    change(bundle, marker)
    _rehash(bundle)
    result = verify_bundle(bundle)
    if is_error:
        assert result.exit_code == 1
        assert any(e.startswith(f"{bundle / rel}: ") and problem in e for e in result.errors), result.errors
    else:
        assert result.exit_code == 2
        named = [(r, p) for r, e in result.refused for p in e.problems]
        assert any(r.startswith(rel) and problem in p for r, p in named), named
    _assert_nothing_ran(bundle, marker, capsys)


def test_pickled_weights_are_refused(clean, tmp_path, capsys):
    bundle = _copy(clean, tmp_path)
    marker = tmp_path / "MARKER"
    _pickled_weights(bundle, marker)
    _rehash(bundle)
    result = verify_bundle(bundle)
    assert result.exit_code == 1
    weights = bundle / "models" / "model.pt"
    assert any(e.startswith(f"{weights}: refused by torch.load(weights_only=True)") for e in result.errors), result.errors
    _assert_nothing_ran(bundle, marker, capsys)


def _archive_with(tmp_path: Path, clean: Path, extra: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    archive = tmp_path / "hostile.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for rel in bundle_files(clean):
            zf.writestr(f"unet/{rel}", (clean / rel).read_bytes())
        for info, data in extra:
            zf.writestr(info, data)
    return archive


def _symlink(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o120777 << 16
    return info, target.encode()


ARCHIVE_CASES = [
    ("dot-dot", lambda m: [("unet/../../MARKER", b"x")], "unsafe entry 'unet/../../MARKER'"),
    ("absolute path", lambda m: [(str(m), b"x")], f"unsafe entry '{{m}}'"),
    ("symbolic link", lambda m: [_symlink("unet/configs/link.yaml", str(m))], "symbolic link entry"),
    ("zip bomb", lambda m: [("unet/docs/bomb.txt", b"\0" * (64 << 20))], "expands"),
    ("second top folder", lambda m: [("other/MARKER", b"x")], "expected one top folder"),
]


@pytest.mark.parametrize("case", ARCHIVE_CASES, ids=[c[0] for c in ARCHIVE_CASES])
def test_hostile_archive_is_refused_before_writing(case, clean, tmp_path, capsys):
    _name, extra, problem = case
    marker = tmp_path / "MARKER"
    archive = _archive_with(tmp_path, clean, extra(marker))
    dest = tmp_path / "deep" / "received"
    result = verify_bundle(archive, extract_to=dest)
    assert result.exit_code == 1
    assert str(archive) in result.errors[0] and problem.format(m=marker) in result.errors[0], result.errors
    assert not dest.exists() or not any(dest.iterdir()), "nothing was written"
    assert not marker.exists() and not (tmp_path / "deep" / "MARKER").exists()
    code = cli("run_received_bundle").main([str(archive), "--extract-to", str(tmp_path / "again")])
    assert code == 1 and "NOT RUN" in capsys.readouterr().err
    assert not marker.exists()


def test_payloads_are_live_without_the_audit(tmp_path):
    """Control: MONAI itself runs such a payload (so the refusals above stop real attacks)."""
    from monai.bundle import ConfigParser

    marker = tmp_path / "MARKER"
    parser = ConfigParser({"m": "$torch", "x": f"$@m.os.system('{_touch(marker)}')"})
    parser.get_parsed_content("x")
    assert marker.exists()


def test_clean_copy_verifies_and_runs_on_the_receivers_code(clean, tmp_path, synthetic_msd_dir, capsys):
    bundle = _copy(clean, tmp_path)
    result = verify_bundle(bundle)
    assert result.exit_code == 0 and result.own_code, (result.errors, result.refused)
    assert result.passed[-1].endswith(str(ROOT / "networks" / "__init__.py"))
    code = cli("run_received_bundle").main([
        str(bundle), "--", "--dataset_dir", str(synthetic_msd_dir), "--max_cases", "1", "--device", "cpu"])
    assert code == 0, capsys.readouterr().err[-3000:]
    assert (bundle / "pred" / "BRATS_485_seg.nii.gz").is_file()
    assert not list(bundle.rglob("__pycache__")), "the bundle's code was not imported"
