"""ZCA whitening (seed 000): fitted per modality on k x k patches of the training slices, stored and reloaded."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from monai.data import MetaTensor

from transforms.whitening import (
    ZCAWhitening,
    ZCAWhiteningd,
    fit_zca_whitening,
    sample_patches,
    stored_zca_whitening,
    zca_matrix,
    zca_whitening_for_training,
)


def correlated_volumes(n: int = 4, shape=(2, 33, 35, 6), seed: int = 0) -> list[dict]:
    """Stationary random fields like MRI: smoothed white noise (the signal) plus white noise of 0.3 its level
    (neighbour correlation ~0.73), a different scale and offset per channel as for different modalities."""
    g = torch.Generator().manual_seed(seed)
    x = torch.arange(-2, 3, dtype=torch.float32)
    blur = torch.exp(-(x[:, None] ** 2 + x[None] ** 2) / 2.0)
    blur = (blur / blur.norm()).expand(shape[0], 1, 5, 5)
    out = []
    for _ in range(n):
        noise = torch.randn(shape[3], shape[0], shape[1] + 4, shape[2] + 4, generator=g)  # (Z, C, H, W)
        field = F.conv2d(noise, blur, groups=shape[0]) + 0.3 * torch.randn(shape[3], *shape[:3], generator=g)
        field = field * torch.tensor([1.0, 3.0])[: shape[0], None, None] + torch.tensor([0.5, -1.0])[: shape[0], None, None]
        out.append({"image": field.permute(1, 2, 3, 0).contiguous()})  # (C, X, Y, Z)
    return out


def patch_covariance(patches: torch.Tensor, channel: int) -> torch.Tensor:
    return torch.cov(patches[:, channel].reshape(len(patches), -1).T.to(torch.float64))


@pytest.fixture(scope="module")
def volumes() -> list[dict]:
    return correlated_volumes()


def test_whitened_training_data_has_identity_covariance(volumes):
    whitening = fit_zca_whitening(volumes, epsilon=0.0, patch_size=5, num_patches=8000, seed=3, progress=False)
    # the training patches the transform was fitted on, whitened with each channel's ZCA matrix: exactly identity
    patches = sample_patches(volumes, patch_size=5, num_patches=8000, seed=3, progress=False)
    white = whitening.whiten_patches(patches)
    for channel in range(2):
        assert torch.allclose(patch_covariance(white, channel), torch.eye(25, dtype=torch.float64), atol=1e-8)
        assert float(patch_covariance(patches, channel)[12, 13] / patch_covariance(patches, channel)[12, 12]) > 0.5
    # the transform as the pipeline applies it (a convolution over whole slices): close to identity on new patches
    whitened = [{"image": whitening(v["image"])} for v in volumes]
    new = sample_patches(whitened, patch_size=5, num_patches=8000, seed=11, progress=False)
    for channel in range(2):
        cov = patch_covariance(new, channel)
        assert cov.diagonal().min() > 0.9 and cov.diagonal().max() < 1.15, cov.diagonal()
        assert (cov - torch.diag(cov.diagonal())).abs().max() < 0.1
        assert abs(float(new[:, channel].mean())) < 0.05  # centred


def test_stored_transform_reloads_and_gives_identical_output(volumes, tmp_path):
    whitening = fit_zca_whitening(volumes, epsilon=0.01, num_patches=2000, progress=False)
    path = whitening.save(tmp_path / "models" / "whitening.pt")
    again = ZCAWhitening.load(path)
    assert repr(again) == repr(whitening) and again.info == whitening.info
    volume = MetaTensor(volumes[0]["image"], affine=torch.diag(torch.tensor([2.0, 2.0, 2.0, 1.0])))
    volume.applied_operations.append({"class": "Marker"})
    for x in (volume, volume[:, :, :, 2]):
        assert torch.equal(torch.as_tensor(whitening(x)), torch.as_tensor(again(x)))
    out = ZCAWhiteningd(keys="image", whitening=str(path))({"image": volume})["image"]
    assert isinstance(out, MetaTensor) and torch.equal(out.affine, volume.affine)
    assert out.applied_operations == volume.applied_operations  # Invertd can still undo the earlier crops
    assert torch.equal(out.as_tensor(), torch.as_tensor(whitening(volume)))


def test_volume_is_whitened_slice_by_slice(volumes):
    whitening = fit_zca_whitening(volumes, num_patches=2000, progress=False)
    volume = volumes[1]["image"]
    whole = whitening(volume)
    by_slice = torch.stack([whitening(volume[..., z]) for z in range(volume.shape[-1])], dim=-1)
    assert whole.shape == volume.shape and torch.allclose(whole, by_slice, atol=1e-5)
    sagittal = ZCAWhitening(whitening.mean, whitening.matrix, whitening.epsilon, slice_axis=0)
    assert torch.allclose(sagittal(volume)[:, 3], whitening(volume[:, 3]), atol=1e-5)


def test_epsilon_scales_each_component_to_s_over_s_plus_epsilon():
    g = torch.Generator().manual_seed(0)
    samples = torch.randn(5000, 9, generator=g, dtype=torch.float64) @ torch.randn(9, 9, generator=g, dtype=torch.float64)
    _, _, s = zca_matrix(samples, 0.0)
    variances = []
    for eps in (0.0, 0.1, 1.0, 10.0):
        mean, w, eigenvalues = zca_matrix(samples, eps)
        white_cov = torch.cov(((samples - mean) @ w).T)
        assert torch.allclose(torch.linalg.eigvalsh(white_cov), (s / (s + eps)).sort().values, atol=1e-8)
        variances.append(float(white_cov.trace()))
    assert variances[0] == pytest.approx(9.0) and variances == sorted(variances, reverse=True)
    with pytest.raises(ValueError, match="epsilon"):
        zca_matrix(samples, -1.0)


def test_bad_input_is_reported(volumes, tmp_path):
    whitening = fit_zca_whitening(volumes, num_patches=500, progress=False)
    with pytest.raises(ValueError, match="2 channels"):
        whitening(torch.zeros(4, 16, 16))
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        ZCAWhitening.load(tmp_path / "nothing.pt")
    bad = tmp_path / "model.pt"
    torch.save({"weight": torch.zeros(2)}, bad)
    with pytest.raises(ValueError, match="model.pt: not a stored ZCA whitening"):
        ZCAWhitening.load(bad)
    with pytest.raises(ValueError, match="smaller than the 5 x 5 patch"):
        fit_zca_whitening([{"image": torch.zeros(2, 4, 4, 3)}], progress=False)


def test_training_slot_fits_stores_resumes_and_clears(volumes, tmp_path):
    path = tmp_path / "whitening.pt"
    assert zca_whitening_for_training("false", path, volumes) == [] and not path.exists()
    (fitted,) = zca_whitening_for_training("true", path, volumes, num_patches=500)
    assert path.is_file() and isinstance(fitted, ZCAWhiteningd)
    # a resumed run loads the stored transform (it does not refit: there is nothing to fit on)
    (resumed,) = zca_whitening_for_training(True, path, [], resume="true")
    x = volumes[0]["image"]
    assert torch.equal(resumed.whitening(x), fitted.whitening(x))
    (stored,) = stored_zca_whitening(path)
    assert torch.equal(stored.whitening(x), fitted.whitening(x))
    with pytest.raises(ValueError, match="resume with --zca_whitening true"):
        zca_whitening_for_training(False, path, volumes, resume=True)
    # a new run without whitening in the same checkpoint folder removes the stale transform
    assert zca_whitening_for_training(False, path, volumes) == [] and not path.exists()
    assert stored_zca_whitening(path) == []
