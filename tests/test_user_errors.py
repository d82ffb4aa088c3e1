"""What a user sees last when a bundle run or a script fails on bad input: the error's message (file named, what
to do) in the last few lines of stderr, not MONAI's resolver traceback; the full traceback is in the file that the
message names (the run's ``traceback.log``, or a file in the temporary folder) and ``UNET_TRACEBACK=1`` prints it.
Every case runs the stock ``python -m monai.bundle`` CLI (or the script) in a subprocess on tiny data."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from data.errors import DatasetError
from data.headers import read_image_header
from formats import FORMATS
from formats.integrity import check_dataset

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--roi_size", "[32, 32]", "--target_params", "0", "--features", "4", "--batch_size", "16", "--device", "cpu"]
LAST_LINES = 4  # the needles of a message must be in the last 4 lines of stderr (message, traceback pointer)
LOG_LINE = re.compile(r"^\(full traceback in (.+); set UNET_TRACEBACK=1 to print it here instead\)$")


def run_bundle(tmp_path: Path, *args: str, config: str = "bundles/unet/configs/train.yaml", run_id: str = "",
               env: dict | None = None) -> subprocess.CompletedProcess:  # fmt: skip
    cmd = [sys.executable, "-m", "monai.bundle", "run", *([run_id] if run_id else []), "--config_file", config, *args]
    base = {k: v for k, v in os.environ.items() if k != "UNET_TRACEBACK"}
    env = {**base, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path), **(env or {})}
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)


def last_error(proc: subprocess.CompletedProcess) -> tuple[str, Path]:
    """The message of the final ``ERROR:`` block of stderr and the traceback file it names; checks the layout."""
    lines = proc.stderr.rstrip("\n").split("\n")
    assert proc.returncode == 1, proc.stderr[-3000:]
    match = LOG_LINE.match(lines[-1])
    assert match, f"last line is not the traceback pointer:\n{proc.stderr[-3000:]}"
    starts = [i for i, line in enumerate(lines) if line.startswith("ERROR: ")]
    assert starts, proc.stderr[-3000:]
    message = "\n".join(lines[starts[-1] : -1])[len("ERROR: ") :]
    assert "Traceback" not in "\n".join(lines[starts[-1] :]) and "ConfigExpression" not in message
    return message, Path(match.group(1))


def assert_short(proc: subprocess.CompletedProcess, *needles: str) -> Path:
    """The last ``LAST_LINES`` lines of stderr hold every needle; returns the traceback file (checked)."""
    message, log = last_error(proc)
    tail = "\n".join(proc.stderr.rstrip("\n").split("\n")[-LAST_LINES:])
    for needle in needles:
        assert needle in tail, f"{needle!r} not in the last {LAST_LINES} lines:\n{tail}"
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and message.split("\n")[0] in text
    return log


@pytest.fixture
def msd_copy(synthetic_msd_dir, tmp_path) -> Path:
    return Path(shutil.copytree(synthetic_msd_dir, tmp_path / "Task01_BrainTumour"))


def test_missing_dataset_json_ends_with_its_message(msd_copy, tmp_path):
    (msd_copy / "dataset.json").unlink()
    out = tmp_path / "runs"
    proc = run_bundle(tmp_path, "--dataset_dir", str(msd_copy), "--output_dir", str(out),
                      "--ckpt_dir", str(tmp_path / "models"), *TINY)  # fmt: skip
    log = assert_short(proc, f"ERROR: {msd_copy / 'dataset.json'}: dataset.json not found", "--dataset_dir")
    # the output folder was accepted: the full traceback is there, MONAI's wrapper included
    assert log == out.resolve() / "traceback.log"
    assert "Failed to evaluate ConfigExpression" in log.read_text()
    # the same command again is not refused because of that file
    proc = run_bundle(tmp_path, "--dataset_dir", str(msd_copy), "--output_dir", str(out),
                      "--ckpt_dir", str(tmp_path / "models"), *TINY)  # fmt: skip
    message, _ = last_error(proc)
    assert "already holds results" not in message and "dataset.json" in message


def test_truncated_volume_ends_with_its_message(msd_copy, tmp_path):
    bad = msd_copy / "imagesTr" / "BRATS_002.nii.gz"
    bad.write_bytes(bad.read_bytes()[:3000])
    proc = run_bundle(tmp_path, "--dataset_dir", str(msd_copy), "--output_dir", str(tmp_path / "runs"),
                      "--ckpt_dir", str(tmp_path / "models"), *TINY)  # fmt: skip
    assert_short(proc, "ERROR: ", str(bad))
    assert "Epoch" not in proc.stdout


def test_output_folder_with_results_ends_with_the_flags(synthetic_msd_dir, tmp_path):
    out = tmp_path / "runs"
    out.mkdir()
    (out / "events.out.tfevents.1").write_text("earlier run")
    proc = run_bundle(tmp_path, "--dataset_dir", str(synthetic_msd_dir), "--output_dir", str(out),
                      "--ckpt_dir", str(tmp_path / "models"), *TINY)  # fmt: skip
    log = assert_short(proc, f"output folder {out} already holds results", "--overwrite true", "--resume true")
    # the refused folder gets nothing: the traceback goes to the temporary folder
    assert log.parent == tmp_path and log.name.startswith("unet-traceback-")
    assert sorted(p.name for p in out.iterdir()) == ["events.out.tfevents.1"]


def test_unet_traceback_prints_the_full_trace(msd_copy, tmp_path):
    (msd_copy / "dataset.json").unlink()
    proc = run_bundle(tmp_path, "--dataset_dir", str(msd_copy), "--output_dir", str(tmp_path / "runs"),
                      "--ckpt_dir", str(tmp_path / "models"), *TINY, env={"UNET_TRACEBACK": "1"})  # fmt: skip
    assert proc.returncode == 1
    assert "data.errors.DatasetError: " in proc.stderr and "Failed to evaluate ConfigExpression" in proc.stderr
    assert proc.stderr.rstrip().endswith(f"(full traceback also in {(tmp_path / 'runs' / 'traceback.log').resolve()})")


def test_bad_flag_value_ends_with_the_option_named(synthetic_msd_dir, tmp_path):
    proc = run_bundle(tmp_path, "--dataset_dir", str(synthetic_msd_dir), "--output_dir", str(tmp_path / "runs"),
                      "--ckpt_dir", str(tmp_path / "models"), *TINY, "--resume", "maybe")  # fmt: skip
    assert_short(proc, "ERROR: --resume must be true or false, got 'maybe'.")


def test_other_errors_keep_the_python_traceback(synthetic_msd_dir, tmp_path):
    # not one of ours (a bug, or MONAI's own complaint): Python's traceback, unchanged
    proc = run_bundle(tmp_path, "--dataset_dir", str(synthetic_msd_dir), "--output_dir", str(tmp_path / "runs"),
                      "--ckpt_dir", str(tmp_path / "models"), *TINY, run_id="no_such_id")  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.rstrip().split("\n")[-1] == "ValueError: run ID 'no_such_id' doesn't exist in the config file."
    assert "ERROR: " not in proc.stderr


def test_worker_error_and_chain_in_a_plain_process(tmp_path):
    """The hook outside MONAI: a chained error (as a transform wrapper raises it) and a non-user error."""
    code = (
        "import engines\n"
        "from data.errors import DatasetError\n"
        "try:\n"
        "    raise DatasetError('/data/x.nii.gz: empty file (0 bytes); replace it.')\n"
        "except DatasetError as e:\n"
        "    raise RuntimeError('applying transform <LoadImaged>') from e\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TMPDIR": str(tmp_path)})  # fmt: skip
    message, log = last_error(proc)
    assert message == "/data/x.nii.gz: empty file (0 bytes); replace it." and log.parent == tmp_path
    assert "applying transform <LoadImaged>" in log.read_text()
    proc = subprocess.run([sys.executable, "-c", "import engines\nraise KeyError('k')"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert proc.stderr.rstrip().split("\n")[-1] == "KeyError: 'k'" and "ERROR:" not in proc.stderr


def test_scripts_install_the_hook():
    code = (
        "import importlib.util, sys\n"
        "for name in ('check_dataset', 'compare_variants', 'package_bundle', 'verify_bundle'):\n"
        "    sys.excepthook = sys.__excepthook__\n"
        "    spec = importlib.util.spec_from_file_location(name, f'scripts/{name}.py')\n"
        "    spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "    print(name, sys.excepthook.__module__)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == [w for n in ("check_dataset", "compare_variants", "package_bundle",
                                               "verify_bundle") for w in (n, "engines.errors")]  # fmt: skip


def test_check_workflow_reads_only_and_is_not_refused_by_the_guard(synthetic_msd_dir, tmp_path):
    """`run check` only reads: an output folder holding results does not stop it (check_then_run still is)."""
    out = tmp_path / "runs"
    out.mkdir()
    (out / "events.out.tfevents.1").write_text("earlier run")
    configs = "['bundles/unet/configs/train.yaml','bundles/common/configs/check.yaml']"
    args = ["--dataset_dir", str(synthetic_msd_dir), "--output_dir", str(out), "--ckpt_dir", str(tmp_path / "models")]
    proc = run_bundle(tmp_path, *args, *TINY, config=configs, run_id="check")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "already holds results" not in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["events.out.tfevents.1"] and not (tmp_path / "models").exists()
    proc = run_bundle(tmp_path, *args, *TINY, config=configs, run_id="check_then_run")
    message, _ = last_error(proc)
    assert f"output folder {out} already holds results" in message


# ---- file-level messages: paths outside the data set, symbolic link loops, empty files ----------------------------


def _edit_dataset_json(root: Path, index: int, key: str, value: str) -> None:
    meta = json.loads((root / "dataset.json").read_text())
    meta["training"][index][key] = value
    (root / "dataset.json").write_text(json.dumps(meta))


def test_path_outside_the_data_set_is_an_error_unless_allowed(msd_copy, tmp_path):
    other = tmp_path / "other_set" / "imagesTr"
    other.mkdir(parents=True)
    shutil.copy(msd_copy / "imagesTr" / "BRATS_002.nii.gz", other / "x.nii.gz")
    _edit_dataset_json(msd_copy, 1, "image", "../other_set/imagesTr/x.nii.gz")
    expected = (
        f"{msd_copy / 'dataset.json'}: training[1] image '../other_set/imagesTr/x.nii.gz' points outside the data set "
        f"folder (to {other / 'x.nii.gz'}); fix the entry, or allow it with allow_outside_paths"
    )
    with pytest.raises(DatasetError) as err:
        FORMATS.open(msd_copy, "msd")
    assert expected in str(err.value)
    spec = FORMATS.open(msd_copy, "msd", allow_outside_paths=True)
    assert spec.training[1]["image"] == str(other / "x.nii.gz")
    # the integrity check (run check, scripts/check_dataset.py) names the entry too
    report = check_dataset("msd", msd_copy, progress=False)
    assert [f"{f.path}: {f.message}" for f in report.errors] == [expected]
    assert not check_dataset("msd", msd_copy, progress=False, allow_outside_paths=True).errors
    # through the bundle: the last lines name the entry
    proc = run_bundle(tmp_path, "--dataset_dir", str(msd_copy), "--output_dir", str(tmp_path / "runs"),
                      "--ckpt_dir", str(tmp_path / "models"), *TINY)  # fmt: skip
    assert_short(proc, "training[1] image '../other_set/imagesTr/x.nii.gz' points outside the data set folder")


def test_symbolic_link_loop_is_reported_as_such(msd_copy):
    image = msd_copy / "imagesTr" / "BRATS_002.nii.gz"
    image.unlink()
    image.symlink_to(image)
    message = f"{image}: image: symbolic link loop (the link leads back to itself); replace it with the file or a link to it"
    with pytest.raises(DatasetError, match="symbolic link loop") as err:
        FORMATS.open(msd_copy, "msd")
    assert message in str(err.value) and "not found" not in str(err.value)
    report = check_dataset("msd", msd_copy, progress=False)
    errors = [f"{f.path}: {f.message}" for f in report.findings if f.severity == "error"]
    assert len(errors) == 1 and errors[0].startswith(message), errors
    with pytest.raises(DatasetError, match=f"{image}: symbolic link loop"):
        read_image_header(image)


def test_zero_byte_file_is_called_empty(msd_copy):
    label = msd_copy / "labelsTr" / "BRATS_003.nii.gz"
    label.write_bytes(b"")
    message = f"{label}: label: empty file (0 bytes); copy it again from the source"
    with pytest.raises(DatasetError) as err:
        FORMATS.open(msd_copy, "msd")
    assert message in str(err.value)
    report = check_dataset("msd", msd_copy, progress=False)
    errors = [f"{f.path}: {f.message}" for f in report.findings if f.severity == "error"]
    assert len(errors) == 1 and errors[0].startswith(message), errors
    with pytest.raises(DatasetError, match=f"{label}: empty file"):
        read_image_header(label)
