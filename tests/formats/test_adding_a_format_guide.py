"""docs/adding_a_data_format.md is real: its example format, written out file by file as the guide shows it, registers
with one import and round-trips (synthesize -> detect -> open -> check -> load) like the seed formats."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "adding_a_data_format.md"
ROUND_TRIP = """
import sys
import formats
formats.__path__.append(sys.argv[1])  # the example folder beside the real ones, as if it were formats/nifti_pairs/
import formats.nifti_pairs  # the registration line
from formats import FORMATS
root = FORMATS.get("nifti_pairs").synthesize(sys.argv[2], num_cases=3)
assert FORMATS.detect(root, candidates=["nifti_pairs", "msd"]) == "nifti_pairs"
spec = FORMATS.open(root, "nifti_pairs")
assert [c["case_id"] for c in spec.training] == ["case_000", "case_001", "case_002"], spec.training
assert FORMATS.check(root, "nifti_pairs", progress=False).ok
(root / "labels" / "case_001.nii.gz").unlink()
report = FORMATS.check(root, "nifti_pairs", progress=False)
assert [f.path for f in report.errors] == [str(root / "images" / "case_001.nii.gz")], report.format()
item = dict(spec.training[0])
for transform in FORMATS.get("nifti_pairs").load_transforms(spec):
    item = transform(item)
assert tuple(item["image"].shape) == (1, 16, 16, 16) and tuple(item["label"].shape) == (1, 16, 16, 16)
print("ok")
"""


def test_the_guide_example_round_trips(tmp_path):
    blocks = re.findall(r"```python\n# formats/nifti_pairs/(\w+\.py)\n(.*?)```", GUIDE.read_text(), flags=re.S)
    assert sorted(name for name, _ in blocks) == ["__init__.py", "checks.py", "discovery.py", "synthetic.py"]
    folder = tmp_path / "formats" / "nifti_pairs"
    folder.mkdir(parents=True)
    for name, code in blocks:
        (folder / name).write_text(code)
    proc = subprocess.run(
        [sys.executable, "-c", ROUND_TRIP, str(tmp_path / "formats"), str(tmp_path / "data")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
