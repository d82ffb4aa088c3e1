"""Every bundles/*/configs/metadata.json passes the MONAI bundle metadata schema (our offline copy), and broken
metadata fails with errors that name the file and the field."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "bundles" / "common" / "schema" / "metadata_schema.json"
METADATA_FILES = sorted(ROOT.glob("bundles/*/configs/metadata.json"))
BUNDLE_IDS = [p.parents[1].name for p in METADATA_FILES]
UNET_META = ROOT / "bundles" / "unet" / "configs" / "metadata.json"

# the `required` list of MONAI's meta_schema_20240725.json
MONAI_REQUIRED = [
    "schema",
    "version",
    "monai_version",
    "pytorch_version",
    "numpy_version",
    "required_packages_version",
    "task",
    "description",
    "authors",
    "copyright",
    "network_data_format",
]


def _load_script():
    spec = importlib.util.spec_from_file_location("verify_metadata", ROOT / "scripts" / "verify_metadata.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


vm = _load_script()


def _write(tmp_path: Path, metadata: dict, name: str = "metadata.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(metadata, indent=4))
    return path


@pytest.fixture
def unet_meta() -> dict:
    return json.loads(UNET_META.read_text())


# ---- the shipped schema ---------------------------------------------------------------------------------------


def test_schema_is_valid_draft_2019_09_with_monai_required_fields():
    from jsonschema import Draft201909Validator

    schema = json.loads(SCHEMA.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2019-09/schema"
    Draft201909Validator.check_schema(schema)
    assert schema["required"] == MONAI_REQUIRED
    tensor_required = ["type", "format", "num_channels", "spatial_shape", "dtype", "value_range"]
    assert schema["$defs"]["tensor"]["required"] == tensor_required


# ---- every bundle's metadata ----------------------------------------------------------------------------------


def test_bundles_found():
    assert UNET_META in METADATA_FILES


@pytest.mark.parametrize("meta_file", METADATA_FILES, ids=BUNDLE_IDS)
def test_bundle_metadata_is_valid(meta_file):
    assert vm.check_file(meta_file, SCHEMA) == []


@pytest.mark.parametrize("meta_file", METADATA_FILES, ids=BUNDLE_IDS)
def test_bundle_metadata_agrees_with_requirements_pins(meta_file):
    """Versions stated in metadata.json for packages pinned in requirements.txt are those pins."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)", line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    meta = json.loads(meta_file.read_text())
    stated = {k.lower(): v for k, v in meta["required_packages_version"].items()}
    stated["monai"] = meta["monai_version"]
    stated["torch"] = meta["pytorch_version"]
    stated["numpy"] = meta["numpy_version"]
    for name, pinned in pins.items():
        if name in stated:
            assert stated[name] == pinned, f"{meta_file}: {name} is {stated[name]}, requirements.txt pins {pinned}"


@pytest.mark.parametrize("meta_file", METADATA_FILES, ids=BUNDLE_IDS)
def test_bundle_metadata_eval_metrics_are_numbers_or_unmeasured(meta_file):
    metrics = json.loads(meta_file.read_text()).get("eval_metrics", {})
    for key, value in metrics.items():
        assert value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)), (
            f"{meta_file}: eval_metrics.{key} = {value!r} is neither a number nor null"
        )


def test_stock_monai_verify_metadata_is_offline_with_local_schema(monkeypatch):
    """`python -m monai.bundle verify_metadata --meta_file ... --filepath <our schema>` needs no network: MONAI's
    download_url returns early when `filepath` exists. Any real download attempt fails this test."""
    import monai.apps.utils as monai_apps_utils
    from monai.bundle import verify_metadata

    def no_network(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    for name in ("urlopen", "urlretrieve", "_download_with_progress"):
        monkeypatch.setattr(monai_apps_utils, name, no_network)

    verify_metadata(meta_file=str(UNET_META), filepath=str(SCHEMA))  # raises on any validation error


def test_stock_monai_verify_metadata_rejects_missing_field(tmp_path, unet_meta):
    from monai.bundle import verify_metadata

    del unet_meta["version"]
    bad = _write(tmp_path, unet_meta)
    with pytest.raises(ValueError, match="'version' is a required property"):
        verify_metadata(meta_file=str(bad), filepath=str(SCHEMA))


# ---- broken copies fail, naming file and field ----------------------------------------------------------------


@pytest.mark.parametrize("field", ["version", "numpy_version", "required_packages_version", "network_data_format"])
def test_missing_required_field_fails(tmp_path, unet_meta, field):
    del unet_meta[field]
    bad = _write(tmp_path, unet_meta)
    errors = vm.check_file(bad, SCHEMA)
    assert errors, f"metadata without {field} passed"
    assert any(str(bad) in e and f": {field}: " in e and "required" in e for e in errors), errors


@pytest.mark.parametrize(
    "keys, value, field, expected",
    [
        (["version"], 1, "version", "is not of type 'string'"),
        (["required_packages_version"], ["nibabel"], "required_packages_version", "is not of type 'object'"),
        (["references"], "Ronneberger 2015", "references", "is not of type 'array'"),
        (
            ["network_data_format", "inputs", "image", "num_channels"],
            "4",
            "network_data_format.inputs.image.num_channels",
            "is not of type 'integer'",
        ),
        (
            ["network_data_format", "outputs", "pred", "value_range"],
            ["0", "1"],
            "network_data_format.outputs.pred.value_range.0",
            "is not of type 'number'",
        ),
    ],
)
def test_wrong_type_fails(tmp_path, unet_meta, keys, value, field, expected):
    target = unet_meta
    for k in keys[:-1]:
        target = target[k]
    target[keys[-1]] = value
    bad = _write(tmp_path, unet_meta)
    errors = vm.check_file(bad, SCHEMA)
    assert any(e.startswith(f"{bad}: {field}: ") and expected in e for e in errors), errors


def test_missing_tensor_field_fails(tmp_path, unet_meta):
    del unet_meta["network_data_format"]["outputs"]["pred"]["dtype"]
    bad = _write(tmp_path, unet_meta)
    errors = vm.check_file(bad, SCHEMA)
    assert errors == [f"{bad}: network_data_format.outputs.pred.dtype: 'dtype' is a required property"]


def test_deprecated_optional_packages_version_fails(tmp_path, unet_meta):
    """MONAI 1.6.1 renames optional_packages_version to required_packages_version when a bundle runs,
    overwriting the real list; the checker rejects it although the schema allows it."""
    unet_meta["optional_packages_version"] = {}
    bad = _write(tmp_path, unet_meta)
    errors = vm.check_file(bad, SCHEMA)
    assert len(errors) == 1 and errors[0].startswith(f"{bad}: optional_packages_version: ")


def test_invalid_json_and_duplicate_keys_fail(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": "x",')
    dup = tmp_path / "dup.json"
    dup.write_text('{"version": "0.1.0", "version": "0.2.0"}')
    assert vm.check_file(broken, SCHEMA)[0].startswith(f"{broken}: <file>: cannot read JSON")
    assert "duplicate key 'version'" in vm.check_file(dup, SCHEMA)[0]


# ---- the command line -----------------------------------------------------------------------------------------


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "verify_metadata.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_passes_on_repository_bundles():
    proc = _run()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"OK   {UNET_META}" in proc.stdout


def test_cli_folder_of_bundles_reports_bad_file_and_field(tmp_path, unet_meta):
    good_dir = tmp_path / "bundles" / "good" / "configs"
    bad_dir = tmp_path / "bundles" / "bad" / "configs"
    good_dir.mkdir(parents=True)
    bad_dir.mkdir(parents=True)
    _write(good_dir, unet_meta)
    broken = copy.deepcopy(unet_meta)
    del broken["authors"]
    bad = _write(bad_dir, broken)

    proc = _run(str(tmp_path / "bundles"))
    assert proc.returncode == 1
    assert f"OK   {good_dir / 'metadata.json'}" in proc.stdout
    assert f"FAIL {bad}: authors: 'authors' is a required property" in proc.stderr

    assert _run(str(good_dir / "metadata.json"), str(tmp_path / "bundles" / "good")).returncode == 0


def test_cli_missing_path_fails(tmp_path):
    proc = _run(str(tmp_path / "nothing_here"))
    assert proc.returncode == 1 and "nothing_here" in proc.stderr
