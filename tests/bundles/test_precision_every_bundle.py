"""`--amp true --amp_dtype bfloat16` reaches validation, evaluation and inference of every bundle (BraTS included):
each workflow's evaluator is the shared MixedPrecisionEvaluator, its inferer runs under bfloat16 autocast, and
its predictions come out float32; `--fuse_inference false` reaches them too (the default: a fused network copy).
Configs are parsed, not run (tiny synthetic twins, networks of width 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser

from engines import MixedPrecisionEvaluator
from formats import FORMATS
from inferers import AdaptiveSliceInferer, AutocastInferer, ForegroundCropInferer
import catalog

ROOT = Path(__file__).resolve().parents[2]
UNET_VARIANTS = ["attention_unet", "efficient_unet", "nas_reduction_unet", "nas_unet", "residual_unet", "unetplusplus"]
# per bundle: its data format and the overrides that keep it tiny
BUNDLES = {
    "unet": ("msd", {"roi_size": [32, 32], "target_params": 0, "features": 4}),
    **{name: ("msd", {"roi_size": [32, 32], "target_params": 0, "features": 4}) for name in UNET_VARIANTS},
    "brats_unet": ("brats2020", {"image_size": [32, 32], "target_params": 0, "features": 4}),
    "isbi_unet": ("isbi2012", {"num_pages": 4, "features": 4, "depth": 2}),
    "figshare_unetplusplus": ("figshare", {"roi_size": [32, 32], "features": 4}),
    "liver_improved_skip_unet": ("png_pairs", {"roi_size": [32, 32], "features": 4}),
    "liver_fcn8s": (
        "png_pairs",
        {"roi_size": [32, 32], "fcn_stages": [[4, 1], [4, 1], [8, 1], [8, 1], [8, 1]], "fc_channels": 8, "fc_kernel": 3},
    ),
}
SMALL = {
    "msd": {"num_training": 3, "num_test": 1, "spatial_size": (32, 32, 4)},
    "brats2020": {"num_cases": 3, "spatial_size": (32, 32, 8)},
    "isbi2012": {"num_pages": 4, "size": 32},
    "figshare": {"num_images": 6, "num_patients": 3, "size": 32},
    "png_pairs": {"num_images": 6, "size": 32},
}
WORKFLOWS = {"train": "validate#evaluator", "evaluate": "evaluate#evaluator", "inference": "infer#evaluator"}


def config_files(bundle: str, workflow: str) -> list[str]:
    """The bundle's config list for one workflow, as a user passes it (catalog)."""
    return catalog.config_files(bundle, workflow)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("twins")
    return {name: FORMATS.get(name).synthesize(base / name, **options) for name, options in SMALL.items()}


@pytest.mark.parametrize("bundle", sorted(BUNDLES))
def test_amp_bfloat16_reaches_validation_evaluation_and_inference(bundle, datasets, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the configs name their shared fragments relative to the repository root
    data_format, tiny = BUNDLES[bundle]
    for workflow, evaluator_id in WORKFLOWS.items():
        engines = {}
        for amp in ("false", "true"):
            parser = ConfigParser()
            parser.read_config(config_files(bundle, workflow))
            parser.update(
                {"dataset_dir": str(datasets[data_format]), "output_dir": str(tmp_path / f"{workflow}_{amp}"),
                 "ckpt_dir": str(tmp_path / "models"), "device": "cpu", "amp": amp, "amp_dtype": "bfloat16",
                 "channels_last": "false", **({"fuse_inference": False} if amp == "false" else {}), **tiny}
            )  # fmt: skip
            for _ in range(2):  # macros inside macro-loaded blocks (evaluate_2d.yaml's), as MONAI's CLI resolves them
                parser.resolve_macro_and_relative_ids()
            engines[amp] = parser.get_parsed_content(evaluator_id)
        off, on = engines["false"], engines["true"]
        where = f"{bundle} {workflow} ({evaluator_id})"
        assert isinstance(on, MixedPrecisionEvaluator) and isinstance(off, MixedPrecisionEvaluator), where
        assert on.amp_dtype == torch.bfloat16 and off.amp_dtype is None, where
        assert on.fuse is True and off.fuse is False, where
        assert isinstance(on.inferer, AutocastInferer) and on.inferer.dtype == torch.bfloat16, where
        assert not isinstance(off.inferer, AutocastInferer) and type(on.inferer.inferer) is type(off.inferer), where
        if data_format in ("msd", "brats2020"):  # volumes: the non-zero box, then the adaptive slice inferer
            assert isinstance(off.inferer, ForegroundCropInferer), where
            assert isinstance(off.inferer.inferer, AdaptiveSliceInferer), where
