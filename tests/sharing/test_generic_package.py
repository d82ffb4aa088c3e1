"""A package of the generic path (a bundle trained on a data set other than its seed's: its config list +
any_dataset.yaml, the run's plan.json in models/): its metadata describes the data set it was trained on, and
scripts/verify_bundle.py's network check builds the network from the packaged plan (no data set needed). Red team:
a string in the plan that MONAI would evaluate as an expression stays data in the network check (a marker file
proves nothing ran)."""

from __future__ import annotations

import contextlib
import json
import zipfile
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser

from sharing.package import data_format_from_plan, package_bundle
from sharing.verify import verify_bundle

ROOT = Path(__file__).resolve().parents[2]
TRAIN, ANY = "bundles/unet/configs/train.yaml", "bundles/common/configs/any_dataset.yaml"
LISTS = {"train": [TRAIN, ANY], "evaluate": [TRAIN, ANY, ANY.replace(".yaml", "_evaluate.yaml")],
         "inference": [TRAIN, ANY, ANY.replace(".yaml", "_inference.yaml")]}  # fmt: skip


def _package(twin: Path, tmp_path: Path, poison: str | None = None) -> Path:
    """Plan the twin at width 4, save the planned network's random weights, package as scripts/package_bundle.py
    packages a generic-path run; ``poison``: a string written into the plan as its ``dataset`` entry."""
    ckpt = tmp_path / "models"
    overrides = {"dataset_dir": str(twin), "ckpt_dir": str(ckpt), "fingerprint_dir": str(tmp_path / "fp"),
                 "plan": {"features": 4}, "device": "$torch.device('cpu')"}  # fmt: skip
    parser = ConfigParser()
    parser.read_config([str(ROOT / f) for f in LISTS["train"]])
    parser.update(overrides)
    with contextlib.chdir(ROOT):
        plan = parser.get_parsed_content("data#plan")  # writes <ckpt>/plan.json
        torch.save(parser.get_parsed_content("network").state_dict(), ckpt / "model.pt")
    if poison is not None:
        (ckpt / "plan.json").write_text(json.dumps({**plan, "dataset": poison}))
    return package_bundle("bundles/unet", tmp_path / "dist", weights=ckpt / "model.pt", overrides={"recipe": "default"},
                          config_lists=LISTS, model_files=(ckpt / "plan.json",),
                          check_overrides={k: overrides[k] for k in ("dataset_dir", "ckpt_dir", "fingerprint_dir")})


def test_generic_package_describes_its_data_and_passes_the_network_check(format_twins, tmp_path):
    twin = format_twins["nnunet_v2"]  # the MRI twin: one channel "T2", classes background, fat, muscle, fluid
    archive = _package(twin, tmp_path)
    with zipfile.ZipFile(archive) as zf:
        name = zf.namelist()[0].split("/")[0]
        fmt = json.loads(zf.read(f"{name}/configs/metadata.json"))["network_data_format"]
        plan = json.loads(zf.read(f"{name}/models/plan.json"))
    image, pred = fmt["inputs"]["image"], fmt["outputs"]["pred"]
    assert image["num_channels"] == 1 and image["channel_def"] == {"0": "T2"}
    assert image["spatial_shape"] == plan["patch_size"] and image["modality"] == "unspecified"
    assert pred["num_channels"] == 4
    assert pred["channel_def"] == {str(i): f"{n} (logit)" for i, n in enumerate(["background", "fat", "muscle", "fluid"])}

    result = verify_bundle(archive, extract_to=tmp_path / "recv", net_check=True)
    assert result.errors == [] and result.exit_code == 0, result.errors
    assert any(p.startswith("verify_net_in_out passed; weights load strictly") for p in result.passed)


def test_data_format_from_plan_regions_and_ct():
    plan = {"channel_names": ["CT"], "in_channels": 1, "out_channels": 2, "activation": "sigmoid",
            "labels": {"background": 0, "organ": [1, 2], "tumour": 2}, "class_names": ["x"],
            "normalization": [{"scheme": "ct"}], "patch_size": [16, 16, 8]}  # fmt: skip
    fmt = data_format_from_plan(plan, {"inputs": {}, "outputs": {}, "post_processed_outputs": {"pred": {}}})
    assert fmt["inputs"]["image"]["modality"] == "CT" and fmt["inputs"]["image"]["spatial_shape"] == [16, 16, 8]
    assert fmt["outputs"]["pred"]["channel_def"] == {"0": "organ (logit)", "1": "tumour (logit)"}
    assert fmt["post_processed_outputs"] == {"pred": {}}  # other keys of the bundle's format are kept


@pytest.mark.parametrize("field", ["$", "@", "%"])
def test_red_team_an_expression_in_the_plan_is_never_evaluated(format_twins, tmp_path, field):
    marker = tmp_path / "pwned"
    payload = {"$": f"$open({str(marker)!r}, 'w').write('x')", "@": "@network_def", "%": "%configs/train.yaml#net"}[field]
    archive = _package(format_twins["nnunet_v2"], tmp_path, poison=payload)
    result = verify_bundle(archive, extract_to=tmp_path / "recv", net_check=True)
    assert result.errors == [], result.errors  # the plan is data: the check builds the network as usual
    assert not marker.exists(), "a string of the plan ran as code"
