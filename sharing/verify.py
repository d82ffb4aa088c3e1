"""Verify a received bundle (archive or folder) before running it.

Checks, in this order (nothing from the bundle is imported or evaluated before step 5):

1. the archive unpacks safely (no absolute paths, no ``..``, one top folder);
2. ``configs/metadata.json`` passes our offline copy of MONAI's metadata schema (``scripts/verify_metadata.py``);
3. every file's sha256 matches ``metadata.json["sha256"]``; missing, changed and unrecorded files are named;
4. the only importable top-level names in the bundle folder are our packages (a ``torch/`` or ``numpy.py`` in the
   folder would shadow the installed one, since ``python -m`` puts the folder first on ``sys.path``);
5. ``configs/logging.conf`` is checked with MONAI's own guard (``fileConfig`` evaluates ``class=``/``args=``), and
   every ``$`` expression, ``$import``, ``_target_`` and file macro of the configs is audited against the allowlist
   (``sharing.audit``); anything outside it is listed and the bundle is REFUSED unless ``trust=True``;
6. only then, in a subprocess whose working directory is the bundle folder and whose ``PYTHONPATH`` is cleared (so
   the bundle's own packages are the ones imported): MONAI's ``verify_net_in_out`` on the inference config, and the
   weights loaded strictly into the network with ``torch.load(weights_only=True)``.

The hashes prove the files are those the packager recorded, not that the packager is honest: a hostile bundle
carries hashes of its hostile files. Step 5 is what protects against that.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import yaml

from sharing.audit import OUR_PACKAGES, Entry, audit_config
from sharing.configs import ROOT
from sharing.hashing import HASH_KEY, IMPORTABLE_SUFFIXES, check_hashes

__all__ = ["VerifyResult", "verify_bundle", "extract_archive", "NET_CHECK"]

SCHEMA = ROOT / "bundles" / "common" / "schema" / "metadata_schema.json"
NET_CHECK = """
import torch
from monai.bundle import ConfigParser, verify_net_in_out

verify_net_in_out(net_id="network_def", meta_file="configs/metadata.json", config_file="configs/inference.yaml",
                  device="cpu")
parser = ConfigParser()
parser.read_config("configs/inference.yaml")
net = parser.get_parsed_content("network_def")
state = torch.load("models/model.pt", map_location="cpu", weights_only=True)
if isinstance(state, dict) and isinstance(state.get("model"), dict):
    state = state["model"]
net.load_state_dict(state, strict=True)
import networks
print("verify_net_in_out passed; weights load strictly; networks imported from", networks.__file__)
"""


@dataclass
class VerifyResult:
    """``errors``: integrity failures (exit 1); ``refused``: audit entries outside the allowlist (exit 2 unless
    trusted); ``passed``: what was checked."""

    bundle_dir: Path
    errors: list[str] = field(default_factory=list)
    refused: list[tuple[str, Entry]] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    trusted: bool = False

    @property
    def exit_code(self) -> int:
        if self.errors:
            return 1
        return 2 if self.refused and not self.trusted else 0


def extract_archive(archive: str | Path, dest: str | Path) -> Path:
    """Unpack a bundle ``.zip`` into ``dest``; returns the bundle folder. Refuses (ValueError naming the entry)
    absolute paths, ``..``, symbolic links and more than one top folder."""
    archive, dest = Path(archive), Path(dest)
    with zipfile.ZipFile(archive) as zf:
        tops = set()
        for info in zf.infolist():
            path = PurePosixPath(info.filename)
            if path.is_absolute() or ".." in path.parts or "\\" in info.filename or ":" in info.filename:
                raise ValueError(f"{archive}: unsafe entry {info.filename!r}")
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise ValueError(f"{archive}: symbolic link entry {info.filename!r}")
            tops.add(path.parts[0])
        if len(tops) != 1:
            raise ValueError(f"{archive}: expected one top folder, found {sorted(tops)}")
        zf.extractall(dest)
    return dest / tops.pop()


def _load_verify_metadata():
    spec = importlib.util.spec_from_file_location("verify_metadata", ROOT / "scripts" / "verify_metadata.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _importables(bundle_dir: Path) -> list[str]:
    names = []
    for p in bundle_dir.iterdir():
        if p.is_dir() and any(f.suffix in IMPORTABLE_SUFFIXES for f in p.rglob("*")):
            names.append(p.name)  # a package, or a namespace package portion with modules
        elif p.is_file() and p.suffix in IMPORTABLE_SUFFIXES:
            names.append(p.name)
    return sorted(names)


def _config_files(bundle_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in (bundle_dir / "configs").rglob("*")
        if p.suffix in (".yaml", ".yml", ".json") and p != bundle_dir / "configs" / "metadata.json"
    )


def verify_bundle(
    bundle: str | Path, trust: bool = False, extract_to: str | Path | None = None, net_check: bool = True
) -> VerifyResult:
    """Run the checks of the module docstring on a bundle ``.zip`` or folder (see ``VerifyResult``)."""
    bundle = Path(bundle)
    if bundle.is_file():
        dest = Path(extract_to) if extract_to else Path(tempfile.mkdtemp(prefix="bundle_"))
        try:
            bundle_dir = extract_archive(bundle, dest)
        except (ValueError, zipfile.BadZipFile) as e:
            return VerifyResult(bundle_dir=dest, errors=[str(e)])
    else:
        bundle_dir = bundle
    result = VerifyResult(bundle_dir=bundle_dir, trusted=trust)
    meta_file = bundle_dir / "configs" / "metadata.json"
    if not meta_file.is_file():
        result.errors.append(f"{meta_file}: missing")
        return result

    schema_errors = _load_verify_metadata().check_file(meta_file, SCHEMA)
    result.errors += schema_errors
    if not schema_errors:
        result.passed.append(f"metadata: {meta_file.name} passes {SCHEMA.name} (offline)")
    try:
        metadata = json.loads(meta_file.read_text(encoding="utf-8"))
    except ValueError:
        return result  # check_file has named the file and the JSON error
    recorded = metadata.get(HASH_KEY) if isinstance(metadata, dict) else None
    if not isinstance(recorded, dict) or not recorded:
        result.errors.append(f"{meta_file}: {HASH_KEY}: no file hashes recorded")
    else:
        hash_errors = check_hashes(bundle_dir, recorded)
        result.errors += [f"{bundle_dir / e}" for e in hash_errors]
        if not hash_errors:
            result.passed.append(f"hashes: {len(recorded)} files match {HASH_KEY} in configs/metadata.json")
    foreign = [n for n in _importables(bundle_dir) if n not in OUR_PACKAGES]
    result.errors += [f"{bundle_dir / n}: importable name outside our packages {OUR_PACKAGES}" for n in foreign]

    for config_file in _config_files(bundle_dir):
        rel = config_file.relative_to(bundle_dir).as_posix()
        try:
            with open(config_file, encoding="utf-8") as f:
                config = yaml.safe_load(f)  # JSON is YAML; safe_load builds no Python objects
        except yaml.YAMLError as e:
            result.errors.append(f"{config_file}: cannot be read: {e}")
            continue
        entries = audit_config(config)
        result.refused += [(rel, e) for e in entries if not e.allowed]
        result.passed.append(f"audit: {rel}: {sum(e.allowed for e in entries)} of {len(entries)} entries allowed")
    logging_conf = bundle_dir / "configs" / "logging.conf"
    if logging_conf.is_file():  # fileConfig eval()s `class=`/`args=`: MONAI >= 1.6 refuses executable ones itself
        from monai.bundle.workflows import _reject_executable_logging_config

        try:
            _reject_executable_logging_config(str(logging_conf))
            result.passed.append("audit: configs/logging.conf: only logging classes and literal arguments")
        except ValueError as e:
            result.refused.append(("configs/logging.conf", Entry("logging", "", logging_conf.name, (str(e),))))
    if result.errors or (result.refused and not trust) or not net_check:
        return result

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__: the folder stays as verified
    proc = subprocess.run(
        [sys.executable, "-c", NET_CHECK], cwd=bundle_dir, env=env, capture_output=True, text=True, timeout=900
    )
    if proc.returncode != 0:
        result.errors.append(f"{bundle_dir}: network check failed:\n{proc.stderr[-3000:]}")
    else:
        result.passed.append(proc.stdout.strip().splitlines()[-1])
    return result
