"""Unpack a received bundle archive without writing outside the target folder.

Every entry is checked before anything is written: no absolute path, drive, backslash or ``..``; no symbolic link
(or any non-regular file); one top folder; no duplicate names; at most ``max_files`` entries, ``max_total`` bytes
uncompressed and a compression ratio of at most ``max_ratio`` per entry (a zip bomb). The sizes in the archive's
headers are a sender's claim, so extraction counts the bytes actually written and stops at the same limits.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

__all__ = ["UnsafeArchive", "LIMITS", "safe_extract"]

LIMITS = {"max_files": 10_000, "max_total": 4 << 30, "max_ratio": 200}
_CHUNK = 1 << 20


class UnsafeArchive(ValueError):
    """An archive entry that would escape the target folder or exceed the limits (the message names it)."""


def _check_entries(archive: Path, infos: list[zipfile.ZipInfo], max_files: int, max_total: int, max_ratio: int) -> str:
    if len(infos) > max_files:
        raise UnsafeArchive(f"{archive}: {len(infos)} entries, more than the limit {max_files} (zip bomb?)")
    tops, seen, total = set(), set(), 0
    for info in infos:
        name = info.filename
        path = PurePosixPath(name)
        if (not name or path.is_absolute() or ".." in path.parts or "\\" in name or ":" in name
                or name.startswith("/")):  # fmt: skip
            raise UnsafeArchive(f"{archive}: unsafe entry {name!r} (absolute path or '..' would leave the folder)")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UnsafeArchive(f"{archive}: symbolic link entry {name!r}")
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise UnsafeArchive(f"{archive}: entry {name!r} is not a regular file or folder")
        key = name.rstrip("/")
        if key in seen:
            raise UnsafeArchive(f"{archive}: duplicate entry {name!r}")
        seen.add(key)
        tops.add(path.parts[0])
        total += info.file_size
        if total > max_total:
            raise UnsafeArchive(f"{archive}: more than {max_total} bytes uncompressed (zip bomb?) at {name!r}")
        if info.file_size > max(info.compress_size, 1) * max_ratio and info.file_size > _CHUNK:
            raise UnsafeArchive(
                f"{archive}: entry {name!r} expands {info.file_size / max(info.compress_size, 1):.0f}-fold "
                f"(limit {max_ratio}; zip bomb?)"
            )
    if len(tops) != 1:
        raise UnsafeArchive(f"{archive}: expected one top folder, found {sorted(tops)}")
    return tops.pop()


def safe_extract(archive: str | Path, dest: str | Path, **limits: int) -> Path:
    """Unpack a bundle ``.zip`` into ``dest`` (created); returns the bundle folder ``dest/<top folder>``.

    Args:
        archive: the received ``.zip``.
        dest: target folder; the bundle folder inside it must not exist yet.
        limits: override ``LIMITS`` (``max_files``, ``max_total`` bytes, ``max_ratio``).

    Raises:
        UnsafeArchive: naming the archive and the entry; nothing is written outside ``dest``.
        zipfile.BadZipFile: not a zip archive.
    """
    archive, dest = Path(archive), Path(dest)
    lim = {**LIMITS, **limits}
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        top = _check_entries(archive, infos, lim["max_files"], lim["max_total"], lim["max_ratio"])
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        if (root / top).exists():
            raise UnsafeArchive(f"{dest / top}: already exists; unpack into an empty folder")
        written = 0
        for info in infos:
            target = (root / info.filename).resolve()
            if root not in target.parents:
                raise UnsafeArchive(f"{archive}: entry {info.filename!r} resolves outside {dest}")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "xb") as out:
                size = 0
                while block := src.read(_CHUNK):
                    size += len(block)
                    written += len(block)
                    if size > info.file_size or written > lim["max_total"]:
                        raise UnsafeArchive(f"{archive}: entry {info.filename!r} is larger than its header says")
                    out.write(block)
    return dest / top
