"""sha256 of a bundle's files, recorded in ``configs/metadata.json`` under ``sha256`` (``{relative path: hex}``),
and the check on the receiving side."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["HASH_KEY", "UNHASHED", "sha256_file", "hash_files", "bundle_files", "check_hashes"]

HASH_KEY = "sha256"
UNHASHED = ("configs/metadata.json", "configs/signature.json")  # hold the hashes / sign metadata.json
# what running the bundle writes (output_dir defaults); unrecorded files there are ignored unless importable
OUTPUT_DIRS = ("pred", "runs", "eval")
IMPORTABLE_SUFFIXES = (".py", ".pyc", ".pyd", ".so", ".pth")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def bundle_files(bundle_dir: str | Path) -> list[str]:
    """Every file below ``bundle_dir`` as a POSIX path relative to it, sorted (symbolic links included)."""
    bundle_dir = Path(bundle_dir)
    return sorted(p.relative_to(bundle_dir).as_posix() for p in bundle_dir.rglob("*") if p.is_file() or p.is_symlink())


def hash_files(bundle_dir: str | Path, files: Iterable[str]) -> dict[str, str]:
    return {f: sha256_file(Path(bundle_dir) / f) for f in sorted(files)}


def check_hashes(bundle_dir: str | Path, recorded: Mapping[str, str]) -> list[str]:
    """Errors naming each file that is missing, changed, or present but not recorded (an unrecorded file could be
    imported: ``python -m`` puts the bundle folder first on ``sys.path``; that includes ``__pycache__/*.pyc``, which
    Python prefers to a source of the same size and time). Outputs of a run (non-Python files below ``pred/``,
    ``runs/``, ``eval/``) are ignored. Empty when every file matches."""
    bundle_dir = Path(bundle_dir)
    errors = []
    for rel, want in sorted(recorded.items()):
        path = bundle_dir / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            errors.append(f"{rel}: recorded path leaves the bundle folder")
        elif path.is_symlink():
            errors.append(f"{rel}: is a symbolic link")
        elif not path.is_file():
            errors.append(f"{rel}: missing (sha256 recorded in configs/metadata.json)")
        elif sha256_file(path) != want:
            errors.append(f"{rel}: sha256 differs from configs/metadata.json (file changed)")
    for rel in bundle_files(bundle_dir):
        output = rel.split("/")[0] in OUTPUT_DIRS and not rel.endswith(IMPORTABLE_SUFFIXES)
        if rel not in recorded and rel not in UNHASHED and not output:
            errors.append(f"{rel}: not recorded in configs/metadata.json (added file)")
    return errors
