"""Package a bundle trained for one epoch on tiny synthetic data, unpack it outside the repository, run its inference
config there with the repository not importable, and verify it (clean, tampered, hostile)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml

from sharing.configs import ROOT
from sharing.hashing import HASH_KEY, hash_files
from sharing.package import package_bundle
from sharing.verify import verify_bundle

TINY = {"roi_size": [32, 32], "target_params": 0, "features": 4}
TRAIN = ["--batch_size", "8", "--device", "cpu", "--seed", "0", "--epochs", "1"]


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@pytest.fixture(scope="module")
def archive(synthetic_msd_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("package")
    tiny = [a for k, v in TINY.items() for a in (f"--{k}", json.dumps(v))]
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", "bundles/unet/configs/train.yaml",
           "--dataset_dir", str(synthetic_msd_dir), "--ckpt_dir", str(out / "models"),
           "--output_dir", str(out / "runs"),
           *tiny, *TRAIN]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return package_bundle("bundles/unet", out / "dist", weights=out / "models" / "model.pt", overrides=TINY)


@pytest.fixture
def unpacked(archive, tmp_path) -> Path:
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path)
    return tmp_path / "unet"


def test_archive_holds_a_self_contained_bundle(archive):
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        configs = {n: zf.read(n).decode() for n in names if n.startswith("unet/configs/") and n.endswith(".yaml")}
        metadata = json.loads(zf.read("unet/configs/metadata.json"))
    assert archive.name == "unet_0.1.0.zip"
    for needed in ("models/model.pt", "LICENSE", "docs/README.md", "requirements.txt", "configs/logging.conf",
                   "networks/__init__.py", "networks/nets/modular_unet.py", "transforms/__init__.py",
                   "engines/__init__.py", "metrics/__init__.py"):  # fmt: skip
        assert f"unet/{needed}" in names, needed
    assert set(configs) == {f"unet/configs/{w}.yaml" for w in ("train", "evaluate", "inference")}
    assert not any("%bundles/" in text for text in configs.values()), "macros resolved"
    assert not any(n.startswith(("unet/sharing/", "unet/tests/", "unet/scripts/")) or "__pycache__" in n for n in names)
    assert "unet/formats/msd/discovery.py" in names and not [n for n in names if n.endswith("/synthetic.py")], \
        "the formats it reads, not their synthetic twins"
    assert set(metadata[HASH_KEY]) == {n[len("unet/"):] for n in names} - {"configs/metadata.json"}
    with zipfile.ZipFile(archive) as zf:
        card = zf.read("unet/docs/README.md").decode()
    assert card.startswith("# Packaged bundle `unet`") and "--config_file configs/inference.yaml" in card
    assert "bundles/unet/configs/inference.yaml" in card, "the model card of the repository follows"
    inference = yaml.safe_load(configs["unet/configs/inference.yaml"])
    assert inference["bundle_root"] == "." and inference["features"] == 4 and inference["target_params"] == 0


def test_packaging_is_refused_when_weights_do_not_fit(archive, tmp_path):
    weights = archive.parents[1] / "models" / "model.pt"
    with pytest.raises(ValueError, match=f"{weights}: does not fit"):
        package_bundle("bundles/unet", tmp_path, weights=weights, overrides={"target_params": 0, "features": 8})
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        package_bundle("bundles/unet", tmp_path, weights=tmp_path / "nothing.pt")


def test_unpacked_bundle_runs_inference_outside_the_repository(unpacked, synthetic_msd_dir):
    assert ROOT not in unpacked.parents
    probe = "import importlib.util, networks; print(networks.__file__); print(importlib.util.find_spec('sharing'))"
    proc = subprocess.run([sys.executable, "-c", probe], cwd=unpacked, env=_env(), capture_output=True, text=True)
    networks_file, sharing_spec = proc.stdout.split()
    assert Path(networks_file).resolve() == (unpacked / "networks" / "__init__.py").resolve()
    assert sharing_spec == "None", "the repository is not importable"

    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", "configs/inference.yaml",
           "--dataset_dir", str(synthetic_msd_dir), "--max_cases", "1", "--device", "cpu"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=unpacked, env=_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    prediction = unpacked / "pred" / "BRATS_485_seg.nii.gz"
    assert prediction.is_file(), sorted(p.name for p in unpacked.rglob("*seg*"))
    source = nib.load(synthetic_msd_dir / "imagesTs" / "BRATS_485.nii.gz")
    pred = nib.load(prediction)
    assert pred.shape == source.shape[:3]
    np.testing.assert_allclose(pred.affine, source.affine, atol=1e-5)
    assert set(np.unique(np.asarray(pred.dataobj))) <= {0, 1}
    # outputs written by the run do not break a later verification of the folder
    assert verify_bundle(unpacked, net_check=False).errors == []


def test_clean_archive_verifies(archive, tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import verify_bundle as cli
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert cli.main([str(archive), "--extract-to", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "OK   hashes:" in out and "OK   metadata:" in out
    assert f"networks imported from {ROOT / 'networks' / '__init__.py'}" in out, "the receiver's copy, not the bundle's"
    assert "OK   code: " in out and "identical to this repository's copy" in out
    assert out.rstrip().endswith("PASSED")


@pytest.mark.parametrize(
    "rel, change",
    [
        ("models/model.pt", b"\0"),
        ("networks/nets/modular_unet.py", b"\nimport os\n"),
        ("configs/train.yaml", b"\n# x\n"),
    ],
)
def test_tampered_file_fails_and_is_named(unpacked, rel, change):
    with open(unpacked / rel, "ab") as f:
        f.write(change)
    result = verify_bundle(unpacked, net_check=False)
    assert result.exit_code == 1
    assert result.errors == [f"{unpacked / rel}: sha256 differs from configs/metadata.json (file changed)"]


ADDED = ["networks/evil.py", "torch/__init__.py", "networks/__pycache__/budget.cpython-311.pyc"]


@pytest.mark.parametrize("rel", ADDED)
def test_added_importable_file_fails(unpacked, rel):
    (unpacked / rel).parent.mkdir(parents=True, exist_ok=True)
    (unpacked / rel).write_text("print('hello')\n")
    errors = verify_bundle(unpacked, net_check=False).errors
    assert any(e.startswith(f"{unpacked / rel}: not recorded") for e in errors), errors
    if rel.startswith("torch/"):
        assert any("torch: importable name outside our packages" in e for e in errors)


def _rehash(bundle: Path) -> None:
    """What a hostile packager does: record the hashes of the hostile files."""
    meta_file = bundle / "configs" / "metadata.json"
    meta = json.loads(meta_file.read_text())
    meta[HASH_KEY] = hash_files(bundle, meta[HASH_KEY])
    meta_file.write_text(json.dumps(meta))


def test_hostile_config_is_listed_and_refused_without_trust(unpacked, capsys):
    config_file = unpacked / "configs" / "inference.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["network_def"]["_requires_"] = "$__import__('os').system('touch PWNED')"
    config["cleanup"] = {"_target_": "subprocess.run", "args": ["touch", "PWNED"]}
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    _rehash(unpacked)

    result = verify_bundle(unpacked)
    assert result.errors == [], "the hashes match: they prove integrity, not trust"
    assert result.exit_code == 2
    refused = {(rel, e.where, e.text) for rel, e in result.refused}
    assert refused == {
        ("configs/inference.yaml", "network_def#_requires_", "$__import__('os').system('touch PWNED')"),
        ("configs/inference.yaml", "cleanup#_target_", "subprocess.run"),
    }
    assert not (unpacked / "PWNED").exists(), "nothing from the bundle ran"

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import verify_bundle as cli
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert cli.main([str(unpacked)]) == 2
    err = capsys.readouterr().err
    assert "REFUSED: 2 entries outside the allowlist" in err
    assert "configs/inference.yaml: cleanup#_target_ (target): 'subprocess.run'" in err
    assert "network_def#_requires_ (expression)" in err and "dunder name '__import__'" in err
    assert cli.main([str(unpacked), "--trust", "--no-net-check"]) == 0
    assert "TRUSTED by --trust: 2 entries" in capsys.readouterr().err


def test_executable_logging_conf_is_refused(unpacked):
    conf = unpacked / "configs" / "logging.conf"
    conf.write_text(conf.read_text().replace("args=(sys.stdout,)", "args=(__import__('os').system('touch PWNED'),)"))
    assert "__import__" in conf.read_text()
    _rehash(unpacked)
    result = verify_bundle(unpacked)
    assert result.exit_code == 2 and [rel for rel, _ in result.refused] == ["configs/logging.conf"]
    assert not (unpacked / "PWNED").exists()


def test_broken_metadata_is_named(unpacked):
    (unpacked / "configs" / "metadata.json").write_text('{"version": ')
    result = verify_bundle(unpacked)
    assert result.exit_code == 1 and result.errors[0].startswith(f"{unpacked / 'configs' / 'metadata.json'}: <file>: ")


def test_unsafe_archive_entries_are_refused(tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("unet/configs/metadata.json", "{}")
        zf.writestr("../outside.py", "print(1)")
    result = verify_bundle(bad, extract_to=tmp_path / "x")
    assert result.exit_code == 1 and "unsafe entry '../outside.py'" in result.errors[0]
    assert not (tmp_path / "outside.py").exists()


@pytest.mark.parametrize(
    "bundle, base, overrides",
    [
        ("unetplusplus", None, {"features": 4, "depth": 2, "prune_level": 2}),
        ("liver_fcn8s", "bundles/liver_improved_skip_unet",
         {"fcn_stages": [[4, 1], [4, 1], [8, 1], [8, 1], [8, 1]], "fc_channels": 8, "fc_kernel": 3}),
    ],
)  # fmt: skip
def test_override_bundles_package_into_one_file_per_workflow(bundle, base, overrides, tmp_path):
    """A variant (or the FCN-8s override of the liver bundle) becomes an ordinary bundle: its network is in the merged
    configs, and the archive verifies (the network check itself is run for unet above)."""
    import torch
    from monai.bundle import ConfigParser

    from sharing.configs import bundle_config_files

    parser = ConfigParser()
    parser.read_config([str(f) for f in bundle_config_files(f"bundles/{bundle}", base=base)["inference"]])
    parser.update(overrides)
    torch.save(parser.get_parsed_content("network_def").state_dict(), tmp_path / "model.pt")
    archive = package_bundle(
        f"bundles/{bundle}", tmp_path / "dist", weights=tmp_path / "model.pt", overrides=overrides, base=base
    )
    result = verify_bundle(archive, extract_to=tmp_path / "recv", net_check=False)
    assert result.exit_code == 0, result.errors + [str(r) for r in result.refused]
    inference = yaml.safe_load((tmp_path / "recv" / bundle / "configs" / "inference.yaml").read_text())
    target = {"unetplusplus": "networks.UNetPlusPlus", "liver_fcn8s": "networks.FCN8s"}[bundle]
    assert inference["network_def"]["_target_"] == target and inference["bundle_root"] == "."


def test_package_cli_names_missing_weights(tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import package_bundle as cli
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert cli.parse_set(["features=16", "roi_size=[32, 32]", "device=cpu"]) == {
        "features": 16, "roi_size": [32, 32], "device": "cpu"
    }  # fmt: skip
    assert cli.main(["bundles/unet", "--out", str(tmp_path), "--weights", str(tmp_path / "none.pt")]) == 1
    assert f"FAIL {tmp_path / 'none.pt'}: not found" in capsys.readouterr().err


SHIPPED = sorted(p.parents[1].name for p in ROOT.glob("bundles/*/configs/metadata.json"))
BASES = {"liver_fcn8s": "bundles/liver_improved_skip_unet"}


@pytest.mark.parametrize("bundle", SHIPPED)
def test_every_shipped_bundle_packaged_verifies(bundle, tmp_path):
    """Every bundle we ship, packaged (random weights of a small network), passes the whole verification without
    --trust: signature-free integrity, its code is this repository's, logging.conf, the audit by object of every
    config and metadata.json, and the weights (the network check is run for unet above and in test_red_team.py)."""
    import torch
    from monai.bundle import ConfigParser

    from sharing.configs import bundle_config_files, flatten_config

    files = bundle_config_files(f"bundles/{bundle}", base=BASES.get(bundle))["inference"]
    parser = ConfigParser()
    parser.read_config([str(f) for f in files])
    small = {"features": 4, "target_params": 0, "fc_channels": 8,
             "fcn_stages": [[4, 1], [4, 1], [8, 1], [8, 1], [8, 1]]}  # fmt: skip
    overrides = {k: v for k, v in small.items() if k in parser.get()}
    flat = flatten_config(files, {**overrides, "bundle_root": "."})  # as the packager builds it
    torch.save(ConfigParser(flat).get_parsed_content("network_def").state_dict(), tmp_path / "model.pt")
    archive = package_bundle(f"bundles/{bundle}", tmp_path / "dist", weights=tmp_path / "model.pt",
                             overrides=overrides, base=BASES.get(bundle))  # fmt: skip
    result = verify_bundle(archive, extract_to=tmp_path / "recv", net_check=False)
    assert result.exit_code == 0 and result.own_code, result.errors + [f"{r}: {e}" for r, e in result.refused]
