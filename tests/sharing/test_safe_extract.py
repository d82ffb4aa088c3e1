"""Unpacking a received archive: limits and unsafe entries are refused before anything is written."""

from __future__ import annotations

import zipfile

import pytest

from sharing.safe_extract import UnsafeArchive, safe_extract


def _zip(path, entries):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


def test_clean_archive_unpacks_into_its_folder(tmp_path):
    archive = _zip(tmp_path / "a.zip", [("b/configs/x.yaml", "a: 1\n"), ("b/models/m.pt", b"\0" * 10)])
    assert safe_extract(archive, tmp_path / "out") == tmp_path / "out" / "b"
    assert (tmp_path / "out" / "b" / "configs" / "x.yaml").read_text() == "a: 1\n"
    with pytest.raises(UnsafeArchive, match="already exists"):
        safe_extract(archive, tmp_path / "out")


@pytest.mark.parametrize(
    "entries, limits, problem",
    [
        ([("b/x", "1"), ("b/y", "2"), ("b/z", "3")], {"max_files": 2}, "3 entries, more than the limit 2"),
        ([("b/x", "a" * 200)], {"max_total": 100}, "more than 100 bytes uncompressed"),
        ([("b/x", b"\0" * (2 << 20))], {"max_ratio": 10}, "'b/x' expands"),
        ([("b/x", "1"), ("b/x", "2")], {}, "duplicate entry 'b/x'"),
        ([("b\\..\\x", "1")], {}, "unsafe entry"),
        ([("C:/x", "1")], {}, "unsafe entry 'C:/x'"),
    ],
)
@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_limits_and_unsafe_names(tmp_path, entries, limits, problem):
    archive = _zip(tmp_path / "a.zip", entries)
    with pytest.raises(UnsafeArchive, match=problem.replace("\\", "\\\\").replace("(", "\\(")):
        safe_extract(archive, tmp_path / "out", **limits)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
