"""`amp: auto`: the precision and layout follow the device's capabilities (mocked here), and explicit settings win."""

from __future__ import annotations

import logging

import pytest
import torch
from monai.data import DataLoader, Dataset
from monai.inferers import SimpleInferer
from monai.losses import DiceLoss

from engines import MixedPrecisionEvaluator, MixedPrecisionTrainer, choose_precision, device_capabilities
from engines import auto_precision, precision
from networks import ModularUNet

CPU_BF16 = {"type": "cpu", "name": "AVX512", "bf16_native": True, "reason": "the CPU computes bfloat16 natively (x)"}
CPU_PLAIN = {"type": "cpu", "name": "AVX2", "bf16_native": False, "reason": "the CPU has no native bfloat16"}
GPU_AMPERE = {"type": "cuda", "name": "A100", "bf16_native": True, "reason": "the GPU computes bfloat16 natively"}
GPU_VOLTA = {"type": "cuda", "name": "V100", "bf16_native": False, "reason": "the GPU predates native bfloat16"}


@pytest.mark.parametrize(
    "caps, amp, dtype, channels_last",
    [
        (CPU_BF16, True, "bfloat16", True),
        (CPU_PLAIN, False, None, False),
        (GPU_AMPERE, True, "bfloat16", True),
        (GPU_VOLTA, True, "float16", True),
    ],
)
def test_auto_follows_the_device(caps, amp, dtype, channels_last):
    choice = choose_precision("cpu", "auto", "auto", "auto", capabilities=caps)
    assert (choice.amp, choice.amp_dtype, choice.channels_last) == (amp, dtype, channels_last)
    assert caps["reason"] in choice.describe()
    assert choice.describe().startswith("precision: " + (f"{dtype} autocast" if amp else "float32"))


def test_explicit_settings_win_over_auto():
    choice = choose_precision("cpu", "false", "auto", "auto", capabilities=CPU_BF16)
    assert (choice.amp, choice.amp_dtype, choice.channels_last) == (False, None, True)
    assert "--amp false was given" in choice.reason
    choice = choose_precision("cpu", "auto", "auto", False, capabilities=CPU_BF16)
    assert (choice.amp, choice.channels_last) == (True, False)
    choice = choose_precision("cuda", "auto", "float16", "auto", capabilities=GPU_AMPERE)
    assert choice.amp_dtype == "float16"
    with pytest.raises(ValueError, match="amp must be true, false or auto"):
        choose_precision("cpu", "maybe", capabilities=CPU_BF16)


def test_cpu_capabilities_read_the_cpu_flags(tmp_path, monkeypatch):
    info = tmp_path / "cpuinfo"
    monkeypatch.setattr(auto_precision, "CPUINFO", str(info))
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f\n")
    caps = device_capabilities("cpu")
    assert caps["bf16_native"] is False and "no native bfloat16" in caps["reason"]
    info.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16\n")
    caps = device_capabilities("cpu")
    assert caps["bf16_native"] is bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert "avx512_bf16" in caps["reason"]
    monkeypatch.setattr(auto_precision, "CPUINFO", str(tmp_path / "absent"))
    assert device_capabilities("cpu")["bf16_native"] is False


def _tiny_engines(amp, channels_last, monkeypatch, caps):
    monkeypatch.setattr(auto_precision, "device_capabilities", lambda device: caps)
    monkeypatch.setattr(precision, "_ANNOUNCED", set())
    torch.manual_seed(0)
    net = ModularUNet(spatial_dims=2, in_channels=1, out_channels=1, features=4, depth=1)
    data = [{"image": torch.randn(1, 16, 16), "label": (torch.rand(1, 16, 16) > 0.5).float()} for _ in range(2)]
    loader = DataLoader(Dataset(data), batch_size=2)
    trainer = MixedPrecisionTrainer(
        device=torch.device("cpu"), max_epochs=1, train_data_loader=loader, network=net,
        optimizer=torch.optim.Adam(net.parameters(), 1e-3), loss_function=DiceLoss(sigmoid=True),
        inferer=SimpleInferer(), amp=amp, channels_last=channels_last,
    )
    evaluator = MixedPrecisionEvaluator(
        device=torch.device("cpu"), val_data_loader=loader, network=net, inferer=SimpleInferer(), amp=amp,
        channels_last=channels_last,
    )
    return trainer, evaluator


def test_engines_resolve_auto_and_log_the_reason_once(monkeypatch, caplog):
    with caplog.at_level(logging.INFO, logger="engines.precision"):
        trainer, evaluator = _tiny_engines("auto", "auto", monkeypatch, CPU_BF16)
    assert trainer.amp_dtype == torch.bfloat16 and evaluator.amp_dtype == torch.bfloat16
    assert trainer.channels_last and evaluator.channels_last
    messages = [r.getMessage() for r in caplog.records if r.name == "engines.precision"]
    assert messages == ["precision: bfloat16 autocast, channels-last, because the CPU computes bfloat16 natively (x)"]
    trainer.run()  # trains under bf16 autocast with NHWC weights
    assert trainer.state.iteration == 1


def test_engines_stay_float32_on_a_cpu_without_bf16(monkeypatch):
    trainer, evaluator = _tiny_engines("auto", "auto", monkeypatch, CPU_PLAIN)
    assert trainer.amp_dtype is None and evaluator.amp_dtype is None
    assert not trainer.channels_last and not evaluator.channels_last


@pytest.mark.parametrize("caps, expected", [(CPU_BF16, True), (CPU_PLAIN, False)])
def test_to_channels_last_auto_follows_the_device(caps, expected, monkeypatch):
    from engines import to_channels_last

    monkeypatch.setattr(auto_precision, "device_capabilities", lambda device: caps)
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.Conv2d(4, 4, 3))
    to_channels_last(net, "auto")
    assert net[0].weight.is_contiguous(memory_format=torch.channels_last) is expected
    assert net[0].weight.is_contiguous() is not expected
