"""Verify a received bundle (archive or folder) before running it.

Nothing from the bundle is imported, evaluated or unpickled by anything but ``torch.load(weights_only=True)``
before every check below has passed; then the network check runs in a subprocess that imports the receiver's own
code, never the bundle's (unless ``trust=True`` accepted a bundle whose code differs).

1. the archive unpacks safely (``sharing.safe_extract``: no absolute paths, ``..``, links, zip bombs);
2. ``configs/metadata.json`` passes our offline copy of MONAI's metadata schema (``scripts/verify_metadata.py``);
3. with ``trusted_keys``: ``configs/signature.json`` is an Ed25519 signature of ``metadata.json`` by one of the
   trusted keys (``sharing.signing``); the hashes of step 4 then extend it to every file;
4. every file's sha256 matches ``metadata.json["sha256"]``; missing, changed and unrecorded files are named;
5. the code: no importable name in the bundle folder besides our packages (a ``torch/`` or ``yaml.py`` would
   shadow the installed one), and each file of the shipped packages is byte-identical to the receiver's copy of this
   repository (``sharing.manifest``; added ``.py``/``.pth``/``__pycache__``, changed and left-out files are listed);
6. ``configs/logging.conf`` (``sharing.logging_audit``: stream handlers to stdout/stderr with literal arguments);
7. every config under ``configs/`` and ``metadata.json`` itself (MONAI exposes it as ``_meta_``) is audited by
   object (``sharing.audit``);
8. every file under ``models/`` is a checkpoint that ``torch.load(weights_only=True)`` accepts (a pickle that
   names any other global is refused without running it);
9. only then, in a subprocess with an empty working directory and ``-P`` (so the bundle folder is not on
   ``sys.path``) and ``PYTHONPATH`` = this repository: MONAI's ``verify_net_in_out`` on the inference config and
   the weights loaded strictly into the network.

Steps 5-7 list entries as ``refused`` (exit 2; ``trust=True`` accepts them after reading); every other failure is
an error (exit 1) that ``trust`` does not override.
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
from pathlib import Path
from typing import Any

import yaml

from sharing.audit import Entry, audit_config
from sharing.configs import ROOT
from sharing.hashing import HASH_KEY, check_hashes
from sharing.logging_audit import audit_logging_conf
from sharing.manifest import CODE_KEY, compare_code
from sharing.safe_extract import UnsafeArchive, safe_extract
from sharing.signing import SIGNATURE_FILE, check_signature

__all__ = ["VerifyResult", "verify_bundle", "extract_archive", "isolated_command", "NET_CHECK"]

SCHEMA = ROOT / "bundles" / "common" / "schema" / "metadata_schema.json"
WEIGHT_SUFFIXES = (".pt", ".pth", ".ckpt")
NET_CHECK = """
import os
import sys
import torch
from monai.bundle import ConfigParser, verify_net_in_out

bundle = sys.argv[1]
# a generic-path package builds its network from the run's plan (read from the data set otherwise): give it the plan,
# read by json.load in an expression (as data: a string such as "$..." in the plan is never parsed as config)
plan_file = os.path.abspath(os.path.join(bundle, "models", "plan.json"))
plan = {"data#plan": f"$__import__('json').load(open({plan_file!r}, encoding='utf-8'))"} if os.path.isfile(plan_file) else {}
verify_net_in_out(net_id="network_def", meta_file=f"{bundle}/configs/metadata.json",
                  config_file=f"{bundle}/configs/inference.yaml", device="cpu", **plan)
parser = ConfigParser()
parser.read_config(f"{bundle}/configs/inference.yaml")
for key, value in plan.items():
    parser[key] = value
net = parser.get_parsed_content("network_def")
state = torch.load(f"{bundle}/models/model.pt", map_location="cpu", weights_only=True)
if isinstance(state, dict) and isinstance(state.get("model"), dict):
    state = state["model"]
net.load_state_dict(state, strict=True)
import networks
print("verify_net_in_out passed; weights load strictly; networks imported from", networks.__file__)
"""


@dataclass
class VerifyResult:
    """``errors``: integrity failures (exit 1); ``refused``: (file, entry) outside the allowlist or code that differs
    from the receiver's copy (exit 2 unless trusted); ``passed``: what was checked; ``own_code``: the bundle's code
    packages are the receiver's own (so the receiver's copy is imported to run it)."""

    bundle_dir: Path
    errors: list[str] = field(default_factory=list)
    refused: list[tuple[str, Entry]] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    trusted: bool = False
    own_code: bool = False

    @property
    def exit_code(self) -> int:
        if self.errors:
            return 1
        return 2 if self.refused and not self.trusted else 0


def extract_archive(archive: str | Path, dest: str | Path) -> Path:
    """Unpack a bundle ``.zip`` into ``dest`` (``sharing.safe_extract.safe_extract``); returns the bundle folder."""
    return safe_extract(archive, dest)


def isolated_command(args: list[str], bundle_dir: Path, own_code: bool) -> tuple[list[str], dict]:
    """Command and environment that run ``python <args>`` for a verified bundle. With ``own_code`` the bundle folder
    is kept off ``sys.path`` (``-P``) and this repository is first on it, so our packages come from the receiver's
    copy (MONAI's ``run`` appends the bundle folder after it); otherwise (``--trust``) the bundle's own code runs."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__: the folder stays as verified
    if own_code:
        env["PYTHONPATH"] = str(ROOT)
        return [sys.executable, "-P", *args], env
    return [sys.executable, *args], env


def _load_verify_metadata():
    spec = importlib.util.spec_from_file_location("verify_metadata", ROOT / "scripts" / "verify_metadata.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read_config(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        if path.suffix == ".json":  # as MONAI reads them
            return json.load(f)
        return yaml.safe_load(f)  # builds no Python objects


def _config_files(bundle_dir: Path) -> list[Path]:
    skip = {bundle_dir / "configs" / "metadata.json", bundle_dir / SIGNATURE_FILE}
    return sorted(p for p in (bundle_dir / "configs").rglob("*") if p.suffix in (".yaml", ".yml", ".json") and p not in skip)


def _refuse(result: VerifyResult, rel: str, kind: str, where: str, text: str, problem: str) -> None:
    result.refused.append((rel, Entry(kind, where, text, (problem,))))


def _check_weights(bundle_dir: Path, result: VerifyResult) -> None:
    import pickle

    import torch

    models = bundle_dir / "models"
    files = sorted(p for p in models.rglob("*") if p.is_file()) if models.is_dir() else []
    for p in files:
        rel = p.relative_to(bundle_dir).as_posix()
        if rel == "models/plan.json":  # the generic path's plan: data read with json.load (builds no objects)
            try:
                json.loads(p.read_text(encoding="utf-8"))
            except (ValueError, OSError) as e:
                result.errors.append(f"{p}: not a JSON plan: {e}")
                continue
            result.passed.append(f"plan: {rel} is JSON")
            continue
        if p.suffix not in WEIGHT_SUFFIXES:
            result.errors.append(f"{p}: not a checkpoint ({', '.join(WEIGHT_SUFFIXES)}); remove it or load it yourself")
            continue
        try:
            torch.load(p, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError, OSError, AttributeError) as e:
            first = str(e).strip().splitlines()
            reason = next((line for line in first if "GLOBAL" in line or "Unsupported" in line), first[0] if first else "")
            result.errors.append(f"{p}: refused by torch.load(weights_only=True) (a pickle naming code): {reason}")
            continue
        result.passed.append(f"weights: {rel} loads with weights_only=True")


def verify_bundle(
    bundle: str | Path,
    trust: bool = False,
    extract_to: str | Path | None = None,
    net_check: bool = True,
    trusted_keys: str | Path | None = None,
) -> VerifyResult:
    """Run the checks of the module docstring on a bundle ``.zip`` or folder.

    Args:
        bundle: the received ``.zip`` or an unpacked bundle folder.
        trust: accept refused entries (listed) and run the network check anyway.
        extract_to: where to unpack a ``.zip`` (default: a new temporary folder).
        net_check: run step 9.
        trusted_keys: folder of trusted Ed25519 public keys; when given, a missing or wrong signature is an error.

    Returns:
        a ``VerifyResult`` (``exit_code`` 0 passed, 1 error, 2 refused).
    """
    bundle = Path(bundle)
    if bundle.is_file():
        dest = Path(extract_to) if extract_to else Path(tempfile.mkdtemp(prefix="bundle_"))
        try:
            bundle_dir = extract_archive(bundle, dest)
        except (UnsafeArchive, zipfile.BadZipFile, OSError) as e:
            return VerifyResult(bundle_dir=dest, errors=[str(e)])
    else:
        bundle_dir = bundle
    result = VerifyResult(bundle_dir=bundle_dir, trusted=trust)
    meta_file = bundle_dir / "configs" / "metadata.json"
    if not meta_file.is_file() or meta_file.is_symlink():
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
    if not isinstance(metadata, dict):
        result.errors.append(f"{meta_file}: not a JSON object")
        return result
    if trusted_keys is not None:
        ok, message = check_signature(bundle_dir, trusted_keys)
        (result.passed if ok else result.errors).append(message)
    recorded = metadata.get(HASH_KEY)
    if not isinstance(recorded, dict) or not recorded:
        result.errors.append(f"{meta_file}: {HASH_KEY}: no file hashes recorded")
    else:
        hash_errors = check_hashes(bundle_dir, recorded)
        result.errors += [f"{bundle_dir / e}" for e in hash_errors]
        if not hash_errors:
            result.passed.append(f"hashes: {len(recorded)} files match {HASH_KEY} in configs/metadata.json")

    differences = compare_code(bundle_dir, metadata.get(CODE_KEY), ROOT)
    for rel, problem in differences:
        if problem.startswith("importable name"):
            result.errors.append(f"{bundle_dir / rel}: {problem}")
        else:
            _refuse(result, rel, "code", rel, "", problem)
    result.own_code = not differences
    if not differences:
        packages = ", ".join(metadata[CODE_KEY]["packages"])
        result.passed.append(f"code: {packages} identical to this repository's copy ({ROOT})")

    logging_conf = bundle_dir / "configs" / "logging.conf"
    if logging_conf.is_file():
        problems = audit_logging_conf(logging_conf)
        for where, problem in problems:
            _refuse(result, "configs/logging.conf", "logging", where, "", problem)
        if not problems:
            result.passed.append("audit: configs/logging.conf: stream handlers to stdout/stderr only")

    meta_entries = audit_config(metadata)
    result.refused += [("configs/metadata.json", e) for e in meta_entries if not e.allowed]
    result.passed.append(
        f"audit: configs/metadata.json: {sum(e.allowed for e in meta_entries)} of {len(meta_entries)} entries allowed"
    )
    for config_file in _config_files(bundle_dir):
        rel = config_file.relative_to(bundle_dir).as_posix()
        try:
            config = _read_config(config_file)
        except (yaml.YAMLError, ValueError) as e:
            result.errors.append(f"{config_file}: cannot be read: {e}")
            continue
        if not isinstance(config, dict):
            result.errors.append(f"{config_file}: not a mapping of config ids")
            continue
        own_meta = "_meta_" in config
        entries = audit_config({"_meta_": metadata, **config}, skip=() if own_meta else ("_meta_",))
        result.refused += [(rel, e) for e in entries if not e.allowed]
        result.passed.append(f"audit: {rel}: {sum(e.allowed for e in entries)} of {len(entries)} entries allowed")
    _check_weights(bundle_dir, result)
    if result.errors or (result.refused and not trust) or not net_check:
        return result

    with tempfile.TemporaryDirectory(prefix="net_check_") as cwd:
        cmd, env = isolated_command(["-c", NET_CHECK, str(bundle_dir.resolve())], bundle_dir, result.own_code)
        proc = subprocess.run(
            cmd, cwd=cwd if result.own_code else bundle_dir, env=env, capture_output=True, text=True, timeout=900
        )
    if proc.returncode != 0:
        result.errors.append(f"{bundle_dir}: network check failed:\n{proc.stderr[-3000:]}")
    else:
        result.passed.append(proc.stdout.strip().splitlines()[-1])
    return result
