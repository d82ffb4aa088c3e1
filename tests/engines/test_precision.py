"""Mixed precision (bfloat16 autocast on CPU) and channels-last in the trainer and evaluator the bundles use."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ignite.engine import Events
from monai.bundle import ConfigParser
from monai.data import DataLoader, Dataset
from monai.inferers import SimpleInferer, SliceInferer
from monai.losses import DiceLoss

from engines import MixedPrecisionEvaluator, MixedPrecisionTrainer, resolve_amp_dtype, to_channels_last
from inferers import AutocastInferer, ForegroundCropInferer
from networks import ModularUNet

ROOT = Path(__file__).resolve().parents[2]


def tiny_unet(seed: int = 0) -> ModularUNet:
    torch.manual_seed(seed)
    return ModularUNet(spatial_dims=2, in_channels=2, out_channels=1, features=4, depth=2)


def conv_input_dtypes(net: torch.nn.Module) -> list[torch.dtype]:
    """Record the dtype that every convolution of ``net`` computes in (its output dtype)."""
    seen: list[torch.dtype] = []
    for m in net.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            m.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    return seen


def slice_batches(n: int = 4) -> list[dict]:
    g = torch.Generator().manual_seed(0)
    items = []
    for _ in range(n):
        image = torch.randn(2, 32, 32, generator=g)
        label = (image[:1] + 0.3 * torch.randn(1, 32, 32, generator=g) > 0.5).float()
        items.append({"image": image, "label": label})
    return items


def test_resolve_amp_dtype():
    assert resolve_amp_dtype("auto", "cpu") == torch.bfloat16
    assert resolve_amp_dtype("auto", "cuda:0") == torch.float16
    assert resolve_amp_dtype("BF16", "cpu") == torch.bfloat16
    assert resolve_amp_dtype(torch.bfloat16, "cuda") == torch.bfloat16
    with pytest.raises(ValueError, match="CUDA only"):
        resolve_amp_dtype("float16", "cpu")
    with pytest.raises(ValueError, match="bfloat16"):  # the error lists the valid names
        resolve_amp_dtype("float8", "cpu")


@pytest.mark.parametrize("flag", ["true", True])  # the command line gives the string
def test_bf16_training_on_cpu_runs_in_bf16_and_the_loss_decreases(flag):
    net = tiny_unet()
    dtypes = conv_input_dtypes(net)
    loader = DataLoader(Dataset(slice_batches(1) * 8), batch_size=8)  # one fixed batch, seen 6 times
    trainer = MixedPrecisionTrainer(
        device="cpu", max_epochs=6, train_data_loader=loader, network=net, loss_function=DiceLoss(sigmoid=True),
        optimizer=torch.optim.Adam(net.parameters(), lr=1e-2), amp=flag, amp_dtype="bfloat16", decollate=False,
    )  # fmt: skip
    assert trainer.amp is False, "MONAI's CUDA-only path is not used on a CPU"
    assert isinstance(trainer.inferer, AutocastInferer) and trainer.amp_dtype == torch.bfloat16
    losses = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: losses.append(e.state.output["loss"].item()))
    trainer.run()
    assert set(dtypes) == {torch.bfloat16}, "every convolution ran under bf16 autocast"
    assert all(p.dtype == torch.float32 for p in net.parameters()), "master weights stay float32"
    assert trainer.state.output["pred"].dtype == torch.float32, "the loss sees a float32 prediction"
    assert all(torch.isfinite(torch.tensor(losses))) and len(losses) == 6
    assert losses[-1] < losses[0] - 0.02, losses


def test_amp_false_string_is_float32():
    net = tiny_unet()
    dtypes = conv_input_dtypes(net)
    loader = DataLoader(Dataset(slice_batches(1)), batch_size=1)
    trainer = MixedPrecisionTrainer(
        device="cpu", max_epochs=1, train_data_loader=loader, network=net, loss_function=DiceLoss(sigmoid=True),
        optimizer=torch.optim.SGD(net.parameters(), lr=0.1), amp="false", amp_dtype="bfloat16",
    )  # fmt: skip
    trainer.run()
    assert trainer.amp_dtype is None and not isinstance(trainer.inferer, AutocastInferer)
    assert set(dtypes) == {torch.float32}


def test_channels_last_gives_the_same_output():
    reference, converted = tiny_unet().eval(), tiny_unet().eval()
    to_channels_last(converted, enabled="true")
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in converted.parameters() if p.dim() == 4)
    formats = []
    first_conv = next(m for m in converted.modules() if isinstance(m, torch.nn.Conv2d))
    first_conv.register_forward_pre_hook(lambda _m, a: formats.append(a[0].is_contiguous(memory_format=torch.channels_last)))
    x = torch.randn(3, 2, 32, 32)
    with torch.no_grad():
        expected, out = reference(x), converted(x)
    assert formats == [True], "inputs are converted to channels-last"
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
    assert to_channels_last(reference, enabled="false") is reference
    assert reference.parameters().__next__().is_contiguous()


def test_channels_last_trainer_converts_the_network():
    net = tiny_unet()
    loader = DataLoader(Dataset(slice_batches(1)), batch_size=1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    before = [id(p) for p in net.parameters()]
    MixedPrecisionTrainer(
        device="cpu", max_epochs=1, train_data_loader=loader, network=net, loss_function=DiceLoss(sigmoid=True),
        optimizer=opt, channels_last="true",
    ).run()  # fmt: skip
    assert [id(p) for p in net.parameters()] == before, "the optimizer still holds the network's parameters"
    conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_bf16_evaluator_on_volumes_matches_float32():
    """Whole volumes through SliceInferer, as validation does: bf16 predictions are float32 tensors close to fp32's."""
    net = tiny_unet().eval()
    dtypes = conv_input_dtypes(net)
    g = torch.Generator().manual_seed(1)
    volumes = [{"image": torch.randn(2, 32, 32, 5, generator=g), "label": torch.zeros(1, 32, 32, 5)} for _ in range(2)]
    preds = {}
    for amp in (False, True):
        evaluator = MixedPrecisionEvaluator(
            device="cpu", val_data_loader=DataLoader(Dataset(volumes), batch_size=1), network=net,
            inferer=SliceInferer(roi_size=(32, 32), spatial_dim=2, sw_batch_size=5, progress=False),
            amp=amp, amp_dtype="auto", decollate=False,
        )  # fmt: skip
        outputs = []
        evaluator.add_event_handler(Events.ITERATION_COMPLETED, lambda e, o=outputs: o.append(e.state.output["pred"]))
        evaluator.run()
        preds[amp] = torch.cat(outputs)
    assert preds[True].dtype == torch.float32 and preds[True].shape == (2, 1, 32, 32, 5)
    assert torch.bfloat16 in dtypes and torch.float32 in dtypes, "one run in bf16, one in fp32"
    assert not torch.equal(preds[True], preds[False]), "bf16 really changes the arithmetic"
    torch.testing.assert_close(torch.sigmoid(preds[True]), torch.sigmoid(preds[False]), rtol=0, atol=0.03)


def test_bundle_config_switches(synthetic_msd_dir, monkeypatch, tmp_path):
    """`--amp true --amp_dtype bfloat16 --channels_last true` on bundles/unet reach the trainer and the validator."""
    monkeypatch.chdir(ROOT)
    parser = ConfigParser()
    parser.read_config("bundles/unet/configs/train.yaml")
    parser.update(
        {"dataset_dir": str(synthetic_msd_dir), "output_dir": str(tmp_path), "ckpt_dir": str(tmp_path), "device": "cpu",
         "target_params": 0, "features": 4, "roi_size": [32, 32], "amp": "true", "amp_dtype": "bfloat16",
         "channels_last": "true"}
    )  # fmt: skip
    trainer = parser.get_parsed_content("train#trainer")
    evaluator = parser.get_parsed_content("validate#evaluator")
    for engine in (trainer, evaluator):
        assert isinstance(engine.inferer, AutocastInferer) and engine.amp_dtype == torch.bfloat16
    crop = evaluator.inferer.inferer  # validation infers the non-zero box of each volume, slice by slice
    assert isinstance(crop, ForegroundCropInferer) and isinstance(crop.inferer, SliceInferer)
    assert isinstance(trainer.inferer.inferer, SimpleInferer)
    conv = next(m for m in trainer.network.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_cuda_routing_without_a_gpu():
    """Which path a CUDA run takes (decided without touching CUDA): float16 training uses MONAI's autocast +
    GradScaler; bfloat16 training uses our wrapper (no scaler); the evaluator uses MONAI's autocast for both."""
    from engines.precision import _plan

    trainer_dtypes, evaluator_dtypes = (torch.float16,), (torch.float16, torch.bfloat16)
    assert _plan("cuda:1", "true", "auto", trainer_dtypes) == (torch.float16, True, {"dtype": torch.float16})
    assert _plan("cuda", True, "bfloat16", trainer_dtypes) == (torch.bfloat16, False, None)
    assert _plan("cuda", True, "bf16", evaluator_dtypes) == (torch.bfloat16, True, {"dtype": torch.bfloat16})
    assert _plan("cpu", True, "auto", evaluator_dtypes) == (torch.bfloat16, False, None)
    assert _plan("cuda", "False", "float16", trainer_dtypes) == (None, False, None)
    with pytest.raises(ValueError, match="amp must be true or false"):
        _plan("cpu", "maybe", "auto", trainer_dtypes)


def test_evaluator_infers_with_a_fused_copy_of_the_weights_loaded_at_start():
    """fuse (the default): the run infers with a copy made after the STARTED handlers (where a CheckpointLoader loads
    the weights), with batch norm folded; its predictions are those of the loaded network; afterwards
    engine.network is the trained network again, unchanged, also when the run fails."""
    net = tiny_unet().eval()
    g = torch.Generator().manual_seed(2)
    volumes = [{"image": torch.randn(2, 32, 32, 3, generator=g), "label": torch.zeros(1, 32, 32, 3)}]
    loaded = {k: v + 0.05 * torch.randn_like(v) if v.is_floating_point() else v for k, v in net.state_dict().items()}

    class LoadAtStart:  # stands in for MONAI's CheckpointLoader (attached at STARTED, before the engine's own handler)
        def attach(self, engine):
            engine.add_event_handler(Events.STARTED, lambda _: net.load_state_dict(loaded))

    seen: list = []

    def evaluator(fuse, loader=DataLoader(Dataset(volumes), batch_size=1), handlers=()):
        ev = MixedPrecisionEvaluator(
            device="cpu", val_data_loader=loader, network=net, amp=False, fuse=fuse, decollate=False,
            inferer=SliceInferer(roi_size=(32, 32), spatial_dim=2, sw_batch_size=3, progress=False),
            val_handlers=list(handlers),
        )  # fmt: skip
        ev.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen.append((e.network, e.state.output["pred"])))
        return ev

    evaluator("false").run()
    initial = seen.pop()[1]
    fused_ev = evaluator(True, handlers=[LoadAtStart()])
    fused_ev.run()
    used, pred = seen.pop()
    assert used is not net and not any(isinstance(m, torch.nn.BatchNorm2d) for m in used.modules())
    assert fused_ev.network is net and any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    evaluator(False).run()  # the loaded network itself
    torch.testing.assert_close(pred, seen.pop()[1], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(pred, initial, atol=1e-3), "the copy holds the weights loaded at STARTED"

    broken = evaluator(True, loader=[{"image": torch.randn(2, 32, 32), "label": None}])  # not a volume: fails
    with pytest.raises(Exception):
        broken.run()
    assert broken.network is net
