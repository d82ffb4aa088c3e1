"""The ways to run the integrity check: the Python API and its registry, scripts/check_dataset.py, and the bundles'
`check` / `check_then_run` workflows (bundles/common/configs/check.yaml)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from monai.bundle import ConfigParser

from data.errors import DatasetError
from formats.integrity import DatasetIntegrityCheck, IntegrityReport, check_dataset, exit_with_report
from formats.brats2020.synthetic import generate_brats2020
from formats.figshare.synthetic import generate_figshare
from formats.isbi2012.synthetic import generate_isbi2012
from formats.msd.synthetic import generate_msd_task01
from formats.png_pairs.synthetic import generate_png_pairs

ROOT = Path(__file__).resolve().parents[2]
CHECK_YAML = "bundles/common/configs/check.yaml"


def _script():
    spec = importlib.util.spec_from_file_location("check_dataset_script", ROOT / "scripts" / "check_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def msd(tmp_path_factory) -> tuple[Path, Path]:
    """A good and a bad (truncated image, missing label) tiny MSD data set."""
    base = tmp_path_factory.mktemp("msd")
    good = generate_msd_task01(base / "good", num_training=3, num_test=1, spatial_size=(16, 16, 8))
    bad = Path(shutil.copytree(good, base / "bad"))
    image = bad / "imagesTr" / "BRATS_002.nii.gz"
    image.write_bytes(image.read_bytes()[:300])
    (bad / "labelsTr" / "BRATS_003.nii.gz").unlink()
    return good, bad


def test_registry_lists_the_formats_on_a_wrong_name(tmp_path):
    for call in (lambda: check_dataset("nifti", tmp_path), lambda: DatasetIntegrityCheck("nifti", tmp_path)):
        with pytest.raises(ValueError, match=r"valid names: brats2020, figshare, isbi2012, msd"):
            call()


def test_report_raises_and_exits_with_every_finding(msd, capsys):
    good, bad = msd
    report = check_dataset("msd", bad, progress=False)
    with pytest.raises(DatasetError) as err:
        report.raise_if_errors()
    assert str(bad / "imagesTr" / "BRATS_002.nii.gz") in str(err.value)
    assert str(bad / "labelsTr" / "BRATS_003.nii.gz") in str(err.value)
    with pytest.raises(SystemExit) as stop:
        exit_with_report(report)
    assert stop.value.code == 1
    out = capsys.readouterr()
    assert out.out.splitlines()[-1] == report.summary() and "2 error(s)" in report.summary()
    assert "dataset check FAILED" in out.err

    passing = check_dataset("msd", good, progress=False)
    assert exit_with_report(passing, strict="false") is passing.raise_if_errors()
    warned = IntegrityReport("msd", good)
    warned.warning(good / "x.nii.gz", "empty")
    assert exit_with_report(warned) is warned
    with pytest.raises(SystemExit):
        exit_with_report(warned, strict="True")  # as MONAI's command line delivers a boolean


def test_script_exit_status_and_options(msd, tmp_path, capsys):
    good, bad = msd
    script = _script()
    assert script.main(["msd", str(good), "--no_progress"]) == 0
    assert script.main(["msd", str(bad), "--no_progress"]) == 1
    assert f"ERROR   {bad / 'labelsTr' / 'BRATS_003.nii.gz'}: label not found" in capsys.readouterr().out
    # a wrong expectation is reported, not raised
    assert script.main(["msd", str(good), "--no_progress", "--num_channels", "3"]) == 1
    fig = generate_figshare(tmp_path / "fig", num_images=4, num_patients=2, size=32)
    assert script.main(["figshare", str(fig), "--no_progress", "--expected_cases", "4"]) == 0
    with pytest.raises(SystemExit) as stop:
        script.main(["nifti", str(good)])
    assert stop.value.code == 2


def test_script_as_a_command_no_stack_trace_and_a_progress_bar(msd):
    _, bad = msd
    proc = subprocess.run(
        [sys.executable, "scripts/check_dataset.py", "msd", str(bad)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == f"dataset check (msd) of {bad}: 2 error(s), 0 warning(s) in 4 case(s)"
    assert lines[0].startswith(f"ERROR   {bad / 'labelsTr' / 'BRATS_003.nii.gz'}: label not found")  # discovery
    assert lines[1].startswith(f"ERROR   {bad / 'imagesTr' / 'BRATS_002.nii.gz'}: cannot read the image")  # decoded
    assert "Traceback" not in proc.stderr and "checking msd cases" in proc.stderr


def _bundle_parser(config: str, **overrides) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config([str(ROOT / config), str(ROOT / CHECK_YAML)])
    for key, value in overrides.items():
        parser[key] = value
    parser.parse()
    return parser


def test_every_bundle_data_fragment_declares_its_check(msd, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)  # bundles resolve their shared YAML relative to the repository root
    good, bad = msd
    figshare = generate_figshare(tmp_path / "fig", num_images=4, num_patients=2, size=32)
    liver = generate_png_pairs(tmp_path / "liver", num_images=3, size=32)
    for config, root, data_format in [
        ("bundles/unet/configs/train.yaml", good, "msd"),
        ("bundles/figshare_unetplusplus/configs/train.yaml", figshare, "figshare"),
        ("bundles/liver_improved_skip_unet/configs/train.yaml", liver, "png_pairs"),
    ]:
        parser = _bundle_parser(config, dataset_dir=str(root))
        check = parser.get_parsed_content("data#integrity_check")
        assert check.data_format == data_format
        parser.get_parsed_content("check")
        assert f"dataset check ({data_format}) of {root}: 0 error(s)" in capsys.readouterr().out
    # the BraTS and ISBI bundles declare theirs too
    brats = generate_brats2020(tmp_path / "brats", 2, (16, 16, 8))
    isbi = generate_isbi2012(tmp_path / "isbi", num_pages=3, size=32, with_test=False)
    for fragment, root, data_format in [
        ("bundles/brats_unet/configs/train.yaml", brats, "brats2020"),
        ("bundles/isbi_unet/configs/train.yaml", isbi, "isbi2012"),
    ]:
        parser = ConfigParser()
        parser.read_config(ROOT / fragment)
        parser["dataset_dir"] = str(root)
        parser["num_pages"] = 0  # the ISBI bundle expects the real 30 pages by default
        report = parser.get_parsed_content("data#integrity_check")()
        assert report.data_format == data_format and report.ok and report.num_cases > 0
    # check_then_run: the bundle's `run` only after a passed check
    parser = _bundle_parser("bundles/unet/configs/train.yaml", dataset_dir=str(good), run=["$print('RUN STARTED')"])
    parser.get_parsed_content("check_then_run")
    out = capsys.readouterr().out
    assert out.index("dataset check passed") < out.index("RUN STARTED")
    parser = _bundle_parser("bundles/unet/configs/train.yaml", dataset_dir=str(bad), run=["$print('RUN STARTED')"])
    with pytest.raises(SystemExit):
        parser.get_parsed_content("check_then_run")
    assert "RUN STARTED" not in capsys.readouterr().out


def test_monai_bundle_run_check_ends_with_the_report_not_a_stack_trace(msd):
    _, bad = msd
    configs = "['bundles/unet/configs/train.yaml','bundles/common/configs/check.yaml']"
    proc = subprocess.run(
        [sys.executable, "-m", "monai.bundle", "run", "check_then_run", "--config_file", configs,
         "--dataset_dir", str(bad), "--run", "['$print(\"RUN\", \"STARTED\")']"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1
    assert f"ERROR   {bad / 'labelsTr' / 'BRATS_003.nii.gz'}: label not found" in proc.stdout
    assert "2 error(s), 0 warning(s) in 4 case(s)" in proc.stdout
    assert "RUN STARTED" not in proc.stdout and "Traceback" not in proc.stderr  # the marker as print() writes it
