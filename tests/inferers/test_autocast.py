"""AutocastInferer runs the wrapped inferer in bf16 on the CPU and returns float32 close to the fp32 result."""

from __future__ import annotations

import pytest
import torch
from monai.inferers import SimpleInferer, SliceInferer

from inferers import AutocastInferer


def test_bf16_on_cpu_returns_float32_close_to_fp32():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(4, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 1, 1)).eval()
    seen = []
    net.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    x = torch.randn(1, 4, 16, 16, 5)
    inner = SliceInferer(roi_size=(16, 16), spatial_dim=2, sw_batch_size=5, progress=False)
    with torch.no_grad():
        ref = inner(x, net)
        out = AutocastInferer(inner, dtype="bfloat16")(x, net)
    assert seen == [torch.float32, torch.bfloat16]
    assert out.dtype == torch.float32 and out.shape == ref.shape == (1, 1, 16, 16, 5)
    torch.testing.assert_close(out, ref, atol=0.05, rtol=0.05)
    with torch.no_grad():
        torch.testing.assert_close(AutocastInferer(SimpleInferer(), dtype="fp32")(x[..., 0], net), net(x[..., 0]))


def test_unknown_dtype_lists_valid_names():
    with pytest.raises(ValueError, match="'int8' is not one of .*bfloat16"):
        AutocastInferer(SimpleInferer(), dtype="int8")
