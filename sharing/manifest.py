"""The code a bundle ships, compared file by file with the receiver's own copy of this repository.

The package step records the code packages it copied and the sha256 of each of their files under ``code`` in
``configs/metadata.json`` (``{"packages": [...], "sha256": {path: hex}}``). The receiver never imports a bundle's
code on trust: each file below a code package of the bundle must be byte-identical to the file of the same path
in the receiver's repository (``ROOT``), and no file may be added (``.py``, ``.pth``, ``__pycache__/*.pyc``, data) or
left out. The differences are listed; ``verify_bundle`` refuses a bundle with any unless ``trust=True``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from sharing.audit import OUR_PACKAGES
from sharing.hashing import IMPORTABLE_SUFFIXES, sha256_file

__all__ = ["CODE_KEY", "NOT_SHIPPED", "code_manifest", "package_files", "compare_code", "importable_names"]

CODE_KEY = "code"
_IGNORED = ("__pycache__",)
# modules a bundle never imports, so never shipped: the synthetic twins of the data formats (each format's
# ``synthetic.py``, imported only by ``DataFormat.synthesize`` for tests and scripts/make_synthetic.py)
NOT_SHIPPED = ("synthetic.py",)


def package_files(root: str | Path, package: str) -> list[str]:
    """Files of one code package below ``root`` that a bundle ships (POSIX paths relative to ``root``): without
    ``__pycache__`` and without :data:`NOT_SHIPPED` modules."""
    root = Path(root)
    out = []
    for p in sorted((root / package).rglob("*")):
        rel = p.relative_to(root)
        if any(part in _IGNORED for part in rel.parts) or p.suffix in (".pyc", ".pyo") or p.is_dir():
            continue
        if p.name in NOT_SHIPPED:
            continue
        out.append(rel.as_posix())
    return out


def code_manifest(root: str | Path, packages: Iterable[str]) -> dict:
    """``{"packages": [...], "sha256": {path: hex}}`` of the code packages as they are below ``root``."""
    root = Path(root)
    packages = sorted(packages)
    files = [f for p in packages for f in package_files(root, p)]
    return {"packages": packages, "sha256": {f: sha256_file(root / f) for f in files}}


def importable_names(bundle_dir: str | Path) -> list[str]:
    """Top-level names Python could import from the bundle folder (packages, namespace portions, modules)."""
    names = []
    for p in Path(bundle_dir).iterdir():
        if p.is_dir() and any(f.suffix in IMPORTABLE_SUFFIXES for f in p.rglob("*")):
            names.append(p.name)
        elif p.suffix in IMPORTABLE_SUFFIXES or p.name.endswith(IMPORTABLE_SUFFIXES):
            names.append(p.name)
    return sorted(names)


def compare_code(bundle_dir: str | Path, recorded: Mapping | None, root: str | Path) -> list[tuple[str, str]]:
    """(file, difference) for every way the bundle's code differs from the receiver's copy below ``root``: a code
    package outside ``OUR_PACKAGES`` or not recorded, a file added, changed or left out, an importable file
    outside the code packages. Empty when the bundle's code is the receiver's own.

    Args:
        bundle_dir: the unpacked bundle.
        recorded: ``metadata.json["code"]`` as the package step wrote it.
        root: the receiver's repository.
    """
    bundle_dir, root = Path(bundle_dir), Path(root)
    out: list[tuple[str, str]] = []
    if not isinstance(recorded, Mapping) or not isinstance(recorded.get("packages"), list):
        out.append(("configs/metadata.json", f"{CODE_KEY}: no code manifest (packages and their sha256)"))
        recorded = {"packages": [], "sha256": {}}
    listed = {str(p) for p in recorded["packages"]}
    present = {p.name for p in bundle_dir.iterdir() if p.is_dir() and p.name in OUR_PACKAGES}
    for name in sorted(set(importable_names(bundle_dir)) - set(OUR_PACKAGES)):
        out.append((name, "importable name outside our packages (it would shadow an installed module)"))
    for name in sorted(listed - set(OUR_PACKAGES)):
        out.append(("configs/metadata.json", f"{CODE_KEY}: {name!r} is not one of our packages {OUR_PACKAGES}"))
    for name in sorted(present - listed):
        out.append((name, f"code package not recorded in configs/metadata.json {CODE_KEY}"))
    manifest = recorded.get("sha256") if isinstance(recorded.get("sha256"), Mapping) else {}
    for package in sorted(present | (listed & set(OUR_PACKAGES))):
        shipped = set()
        for p in sorted((bundle_dir / package).rglob("*")) if (bundle_dir / package).is_dir() else []:
            if p.is_dir() and not p.is_symlink():
                continue
            rel = p.relative_to(bundle_dir).as_posix()
            shipped.add(rel)
            mine = root / rel
            if p.is_symlink():
                out.append((rel, "symbolic link"))
            elif rel not in manifest:
                out.append((rel, f"not in the code manifest (configs/metadata.json {CODE_KEY})"))
            elif not mine.is_file() or "__pycache__" in rel or rel.endswith((".pyc", ".pyo")):
                out.append((rel, f"added: not in this repository's copy ({root})"))
            elif sha256_file(p) != sha256_file(mine):
                out.append((rel, f"differs from this repository's copy {mine}"))
        for rel in package_files(root, package):
            if rel not in shipped:
                out.append((rel, f"left out: this repository's copy has {root / rel}"))
    for p in sorted(bundle_dir.rglob("*")):
        rel = p.relative_to(bundle_dir)
        if rel.parts[0] in OUR_PACKAGES or len(rel.parts) == 1:
            continue
        if p.name.endswith(IMPORTABLE_SUFFIXES) or "__pycache__" in rel.parts:
            out.append((rel.as_posix(), "importable file outside the code packages"))
    return out
