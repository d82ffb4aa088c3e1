"""Every bundle's network exports to TorchScript with MONAI's `ckpt_export` and to ONNX with MONAI's `onnx_export`
(the commands of the README's "Export" section, called in-process), and the exported models give the eager
network's output within tolerance, also at another batch size and image size (dynamic axes)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from sharing.configs import ROOT, bundle_config_files

# tiny widths; every other key is the bundle's own
TINY = {
    "unet": {"target_params": 0, "features": 4},
    "attention_unet": {"target_params": 0, "features": 4},
    "residual_unet": {"target_params": 0, "features": 4},
    "efficient_unet": {"target_params": 0, "features": 4},
    "nas_unet": {"target_params": 0, "features": 4},
    "nas_reduction_unet": {"target_params": 0, "features": 4},
    "unetplusplus": {"features": 4, "depth": 2, "prune_level": 2},
    "figshare_unetplusplus": {"features": 4, "depth": 2},
    "liver_improved_skip_unet": {"features": 4, "depth": 2},
    "liver_fcn8s": {"fcn_stages": [[4, 1], [4, 1], [8, 1], [8, 1], [8, 1]], "fc_channels": 8, "fc_kernel": 3},
    "brats_unet": {"target_params": 0, "features": 4},
    "isbi_unet": {"features": 4, "depth": 1},
}
# valid padding: the traced ONNX graph keeps the centre-crop sizes of the export input, so it is checked at that size
# only (TorchScript keeps the size arithmetic and is checked at every size)
ONNX_EXPORT_SIZE_ONLY = {"isbi_unet"}
BASES = {"liver_fcn8s": "bundles/liver_improved_skip_unet"}
ONNX_KWARGS = {
    "dynamo": False,  # the TorchScript-based exporter: dynamic axes as below, ~5x faster here than dynamo=True
    "input_names": ["image"],
    "output_names": ["pred"],
    "dynamic_axes": {"image": {0: "batch", 2: "height", 3: "width"}, "pred": {0: "batch", 2: "height", 3: "width"}},
}


def test_every_bundle_is_listed():
    bundles = {p.parents[1].name for p in ROOT.glob("bundles/*/configs/metadata.json")}
    assert bundles == set(TINY), "add new bundles to TINY"


@pytest.fixture(params=sorted(TINY), scope="module")
def exported(request, tmp_path_factory):
    from monai.bundle import ConfigParser, ckpt_export, onnx_export

    name = request.param
    files = [str(f) for f in bundle_config_files(ROOT / "bundles" / name, base=BASES.get(name))["inference"]]
    meta = str(ROOT / "bundles" / name / "configs" / "metadata.json")
    out = tmp_path_factory.mktemp(f"export_{name}")
    parser = ConfigParser()
    parser.read_config(files)
    parser.update(TINY[name])
    torch.manual_seed(0)
    net = parser.get_parsed_content("network_def").eval()
    with torch.no_grad():  # non-trivial batch-norm statistics, so eval-mode normalisation is exercised
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    torch.save(net.state_dict(), out / "model.pt")
    in_channels = parser.get_parsed_content("network_def#in_channels")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ckpt_export(
            net_id="network_def", filepath=str(out / "model.ts"), ckpt_file=str(out / "model.pt"), meta_file=meta,
            config_file=files, **TINY[name],
        )  # fmt: skip
        onnx_export(
            net_id="network_def", filepath=str(out / "model.onnx"), ckpt_file=str(out / "model.pt"), meta_file=meta,
            config_file=files, use_trace=True, input_shape=[1, in_channels, 32, 32], converter_kwargs=ONNX_KWARGS,
            **TINY[name],
        )  # fmt: skip
    return name, net, in_channels, out


def _inputs(in_channels: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randn(1, in_channels, 32, 32, generator=g), torch.randn(2, in_channels, 64, 96, generator=g)]


def test_torchscript_matches_eager(exported):
    name, net, in_channels, out = exported
    extra = {"metadata.json": "", "train.json": "", "inference.json": ""}  # every file of the list, by name
    ts = torch.jit.load(str(out / "model.ts"), _extra_files=extra)
    text = {k: v.decode() if isinstance(v, bytes) else v for k, v in extra.items()}
    assert '"version"' in text["metadata.json"] and "network_def" in text["train.json"], "MONAI's extra files"
    assert '"run"' in text["inference.json"], "inference.yaml, the override file of train.yaml"
    for x in _inputs(in_channels):
        with torch.no_grad():
            torch.testing.assert_close(ts(x), net(x), rtol=1e-4, atol=1e-5, msg=f"{name}: TorchScript != eager")


def test_onnx_matches_eager(exported):
    import onnxruntime as ort

    name, net, in_channels, out = exported
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    for x in _inputs(in_channels)[: 1 if name in ONNX_EXPORT_SIZE_ONLY else None]:
        (y,) = session.run(None, {"image": x.numpy()})
        with torch.no_grad():
            expected = net(x).numpy()
        assert y.shape == expected.shape, f"{name}: ONNX output {y.shape} != eager {expected.shape}"
        np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4, err_msg=f"{name}: ONNX != eager")
