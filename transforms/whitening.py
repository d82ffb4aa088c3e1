"""ZCA whitening of 2D slices (seed 000 trains "with ZCA whitening"), fitted once on the training set and stored.

**What is whitened, and why this way.** Keras' ``ImageDataGenerator(zca_whitening=True)`` (the usual source of
"ZCA whitening, shearing, flipping" as in seed 000) whitens each whole image as one vector: for 144 x 144 x 4 slices
that is a 82,944 x 82,944 covariance matrix (27 GB in float32, an eigendecomposition of hours, and more samples
than a training set has slices to be full rank), and it fixes the image size. We whiten **per modality over k x k
patches** (default 5 x 5) sampled from the training slices instead, the patch ZCA of Coates & Ng (2011):

- per channel: each modality has its own intensity statistics, and whitening it apart keeps channel c "whitened
  FLAIR" (a joint patch ZCA would mix the modalities); it estimates C covariances of k^2 x k^2 (25 x 25) instead of
  one of (C k^2)^2, well determined by the default 20,000 patches;
- patches: a patch covariance captures the local correlations that whitening removes (neighbouring pixels of MRI
  are strongly correlated), does not depend on the image size, and is applied as a convolution: the whitened value
  of a pixel is the centre component of the ZCA-whitened patch around it, ``w_c . (p - mu)``, i.e. a k x k depthwise
  convolution with the centre row of ``W = U diag(1 / sqrt(S + epsilon)) U^T`` (``cov = U diag(S) U^T``) minus a
  bias. The same kernel serves training slices (C, H, W) and, slice by slice, whole volumes (C, X, Y, Z) in
  validation and inference. Borders are reflect-padded. The convolution whitens exactly the patches the fit saw
  (their whitened covariance is the identity) and approximately whole images: the centre row of a k x k patch ZCA
  is a truncated whitening filter. On images with a noise floor, as MRI (and our synthetic twins), the covariance of
  whitened image patches is close to the identity (tests: diagonal 0.99-1.08, off-diagonal below 0.07, from input
  neighbour correlations of 0.73-0.79); a noise-free, band-limited image would need a larger kernel or epsilon.

Patches are drawn uniformly over all positions of all slices of the training volumes (background included: the
transform whitens the data the network is given), with a fixed seed, so a refit gives the same transform.
``epsilon`` regularises the small eigenvalues: components with variance ``S`` are scaled to ``S / (S + epsilon)``
instead of 1, so a larger ``epsilon`` amplifies less of the high-frequency noise (Keras: 1e-6 on [0, 1] pixels;
our slices are standardised to unit variance).

The fitted transform is saved next to the checkpoint (``<ckpt_dir>/whitening.pt``, tensors only) and loaded by
evaluation and inference, so they apply exactly the transform training used.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform
from tqdm import tqdm

__all__ = [
    "ZCAWhitening",
    "ZCAWhiteningd",
    "fit_zca_whitening",
    "sample_patches",
    "stored_zca_whitening",
    "zca_matrix",
    "zca_whitening_for_training",
]

WHITENING_FILE = "whitening.pt"
_FORMAT = "zca_patch_whitening/1"
logger = logging.getLogger(__name__)


def zca_matrix(patches: torch.Tensor, epsilon: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ZCA whitening matrix of a sample of vectors.

    Args:
        patches: ``(N, D)`` samples (e.g. flattened k x k patches), ``N > 1``.
        epsilon: added to the eigenvalues of the covariance, ``>= 0``.

    Returns:
        ``(mean (D,), W (D, D), eigenvalues (D,))`` in float64, with ``W = U diag(1 / sqrt(S + epsilon)) U^T`` for the
        covariance ``U diag(S) U^T`` (eigenvalues clipped at 0), so ``(patches - mean) @ W`` has covariance
        ``U diag(S / (S + epsilon)) U^T`` (the identity for ``epsilon = 0`` and full rank).
    """
    if patches.ndim != 2 or patches.shape[0] < 2:
        raise ValueError(f"patches must be (N >= 2, D), got {tuple(patches.shape)}.")
    if not epsilon >= 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon}.")
    x = patches.to(torch.float64)
    mean = x.mean(dim=0)
    centred = x - mean
    cov = centred.T @ centred / (x.shape[0] - 1)
    eigenvalues, vectors = torch.linalg.eigh(cov)
    eigenvalues = eigenvalues.clamp_min(0.0)
    denom = eigenvalues + epsilon
    if bool((denom <= 0).any()):
        raise ValueError("the patch covariance is singular and epsilon is 0: use epsilon > 0.")
    matrix = vectors @ torch.diag(denom.rsqrt()) @ vectors.T
    return mean, matrix, eigenvalues


class ZCAWhitening(Transform):
    """Apply a fitted per-channel patch ZCA whitening to channel-first 2D slices or, slice by slice, 3D volumes.

    Build it with :func:`fit_zca_whitening` (or :meth:`load` a saved one); see the module docstring for the method.

    Args:
        mean: ``(C, k*k)`` mean patch of each channel.
        matrix: ``(C, k*k, k*k)`` ZCA matrix of each channel (:func:`zca_matrix`).
        epsilon: the epsilon the matrices were fitted with (recorded).
        eigenvalues: ``(C, k*k)`` eigenvalues of the patch covariances (recorded, for inspection).
        slice_axis: for 3D input ``(C, X, Y, Z)``, the spatial axis across which slices are taken (2 = axial); the
            k x k kernel acts in the other two axes.
        info: free-form record of the fit (number of patches, volumes, seed), saved with the transform.

    Shapes: ``(C, H, W)`` -> ``(C, H, W)``; ``(C, X, Y, Z)`` -> same. A ``MetaTensor`` keeps its metadata and
    applied operations (so ``Invertd`` still undoes the earlier crops).
    """

    def __init__(
        self,
        mean: torch.Tensor,
        matrix: torch.Tensor,
        epsilon: float,
        eigenvalues: torch.Tensor | None = None,
        slice_axis: int = 2,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        mean, matrix = torch.as_tensor(mean, dtype=torch.float64), torch.as_tensor(matrix, dtype=torch.float64)
        if matrix.ndim != 3 or matrix.shape[1] != matrix.shape[2] or mean.shape != matrix.shape[:2]:
            raise ValueError(f"need mean (C, D) and matrix (C, D, D), got {tuple(mean.shape)} and {tuple(matrix.shape)}.")
        k = int(round(matrix.shape[1] ** 0.5))
        if k * k != matrix.shape[1] or k % 2 == 0:
            raise ValueError(f"the patch must be k x k with k odd, got {matrix.shape[1]} values per patch.")
        self.mean, self.matrix, self.epsilon = mean, matrix, float(epsilon)
        self.eigenvalues = None if eigenvalues is None else torch.as_tensor(eigenvalues, dtype=torch.float64)
        self.patch_size, self.slice_axis = k, int(slice_axis)
        self.info = dict(info or {})
        centre = (k // 2) * k + k // 2
        rows = matrix[:, centre, :]  # (C, D): the centre output of each channel's whitened patch
        self.kernel = rows.reshape(-1, 1, k, k).to(torch.float32)
        self.bias = -(rows * mean).sum(dim=1).to(torch.float32)

    @property
    def num_channels(self) -> int:
        return int(self.matrix.shape[0])

    def whiten_patches(self, patches: torch.Tensor) -> torch.Tensor:
        """Whiten whole patches ``(N, C, k, k)`` with each channel's full ZCA matrix -> ``(N, C, k, k)`` (float64)."""
        n, c = patches.shape[:2]
        flat = patches.reshape(n, c, -1).to(torch.float64) - self.mean
        return torch.einsum("ncd,ced->nce", flat, self.matrix).reshape(patches.shape)

    def _whiten_batch(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> whitened ``(B, C, H, W)``: depthwise k x k convolution, reflect-padded borders."""
        pad = self.patch_size // 2
        mode = "reflect" if min(x.shape[-2:]) > pad else "replicate"
        padded = F.pad(x, (pad, pad, pad, pad), mode=mode)
        kernel, bias = self.kernel.to(x.device, x.dtype), self.bias.to(x.device, x.dtype)
        return F.conv2d(padded, kernel, bias, groups=self.num_channels)

    def __call__(self, img: torch.Tensor | np.ndarray) -> torch.Tensor:
        data = img.as_tensor() if isinstance(img, MetaTensor) else torch.as_tensor(img)
        if data.shape[0] != self.num_channels or data.ndim not in (3, 4):
            raise ValueError(
                f"ZCA whitening fitted for {self.num_channels} channels of 2D slices (C, H, W) or volumes (C, X, Y, Z), "
                f"got shape {tuple(data.shape)}."
            )
        x = data if data.is_floating_point() else data.float()
        with torch.no_grad():
            if x.ndim == 3:
                out = self._whiten_batch(x[None])[0]
            else:  # (C, X, Y, Z): every slice along slice_axis, as a batch of 2D slices
                moved = torch.movedim(x, self.slice_axis + 1, 0)  # (S, C, a, b)
                out = torch.movedim(self._whiten_batch(moved), 0, self.slice_axis + 1)
        if isinstance(img, MetaTensor):
            result = img.clone()
            result.set_array(out.contiguous())
            return result
        return out

    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the transform (tensors and plain values; what :meth:`save` writes)."""
        return {
            "format": _FORMAT,
            "mean": self.mean,
            "matrix": self.matrix,
            "eigenvalues": self.eigenvalues,
            "epsilon": self.epsilon,
            "slice_axis": self.slice_axis,
            "info": self.info,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the transform to ``path`` (``torch.save`` of :meth:`state`); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.state(), path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> ZCAWhitening:
        """Read a transform written by :meth:`save`.

        Raises:
            FileNotFoundError: no file at ``path`` (the message names it).
            ValueError: the file is not a saved ZCA whitening (the message names it).
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no stored ZCA whitening (written by training with --zca_whitening true).")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise ValueError(f"{path}: cannot read the stored ZCA whitening: {err}") from err
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ValueError(f"{path}: not a stored ZCA whitening (expected format {_FORMAT!r}).")
        return cls(
            state["mean"], state["matrix"], state["epsilon"], state.get("eigenvalues"), state["slice_axis"],
            state.get("info"),
        )  # fmt: skip

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(channels={self.num_channels}, patch={self.patch_size}x{self.patch_size}, "
            f"epsilon={self.epsilon:g})"
        )


class ZCAWhiteningd(MapTransform):
    """Dictionary version of :class:`ZCAWhitening`, for the ``whitening`` slot of a bundle's data pipeline.

    Args:
        keys: keys of the images to whiten (``image``).
        whitening: a fitted :class:`ZCAWhitening`, or the path of a saved one.
        allow_missing_keys: skip absent keys.
    """

    def __init__(
        self, keys: KeysCollection, whitening: ZCAWhitening | str | os.PathLike, allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.whitening = whitening if isinstance(whitening, ZCAWhitening) else ZCAWhitening.load(whitening)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.whitening(d[key])
        return d

    def __repr__(self) -> str:
        return f"{type(self).__name__}(keys={self.keys}, {self.whitening!r})"


def sample_patches(
    volumes: Sequence[Mapping[Hashable, Any]],
    key: Hashable = "image",
    patch_size: int = 5,
    num_patches: int = 20000,
    slice_axis: int = 2,
    seed: int = 0,
    progress: bool = True,
) -> torch.Tensor:
    """``num_patches`` k x k patches drawn uniformly over all positions of all slices of ``volumes``.

    Args:
        volumes: items with channel-first ``(C, X, Y, Z)`` volumes (or ``(C, H, W)`` slices) under ``key``, e.g. the
            cached training volumes of a bundle.
        key: the image key.
        patch_size: k (odd).
        num_patches: total number of patches; each volume gives a share proportional to its number of positions.
        slice_axis: spatial axis across which 2D slices are taken (for 3D volumes).
        seed: seed of the sampling.
        progress: show a progress bar over the volumes.

    Returns:
        ``(N, C, k, k)`` float64 patches, all channels at the same positions.
    """
    if patch_size < 1 or patch_size % 2 == 0:
        raise ValueError(f"patch_size must be odd and >= 1, got {patch_size}.")
    k = patch_size
    shapes = []
    for i in range(len(volumes)):
        image = volumes[i][key]
        shape = tuple(image.shape)
        if len(shape) == 3:
            shape = (*shape, 1)
            slice_dim = 3
        else:
            slice_dim = slice_axis + 1
        plane = [s for d, s in enumerate(shape[1:], start=1) if d != slice_dim]
        if min(plane) < k:
            raise ValueError(f"volume {i} has in-plane size {plane}, smaller than the {k} x {k} patch.")
        shapes.append((shape, slice_dim, (plane[0] - k + 1) * (plane[1] - k + 1) * shape[slice_dim]))
    if not shapes:
        raise ValueError("no training volume to fit the ZCA whitening on.")
    counts = np.array([s[2] for s in shapes], dtype=np.float64)
    rng = np.random.default_rng(seed)
    per_volume = rng.multinomial(int(num_patches), counts / counts.sum())
    offsets = torch.arange(k)
    out = []
    items = range(len(volumes))
    for i in tqdm(items, desc="Sampling ZCA patches", disable=not progress):
        n = int(per_volume[i])
        if n == 0:
            continue
        image = volumes[i][key]
        image = image.as_tensor() if isinstance(image, MetaTensor) else torch.as_tensor(image)
        image = image[..., None] if image.ndim == 3 else image
        image = torch.movedim(image, shapes[i][1], 1)  # (C, S, a, b)
        s, a, b = image.shape[1:]
        z = torch.as_tensor(rng.integers(0, s, n))
        x0 = torch.as_tensor(rng.integers(0, a - k + 1, n))
        y0 = torch.as_tensor(rng.integers(0, b - k + 1, n))
        ix = (x0[:, None] + offsets)[:, :, None]  # (n, k, 1)
        iy = (y0[:, None] + offsets)[:, None, :]  # (n, 1, k)
        patches = image[:, z[:, None, None], ix, iy]  # (C, n, k, k)
        out.append(patches.movedim(0, 1).to(torch.float64))
    return torch.cat(out)


def fit_zca_whitening(
    volumes: Sequence[Mapping[Hashable, Any]],
    key: Hashable = "image",
    epsilon: float = 0.01,
    patch_size: int = 5,
    num_patches: int = 20000,
    slice_axis: int = 2,
    seed: int = 0,
    progress: bool = True,
) -> ZCAWhitening:
    """Fit a per-channel patch ZCA whitening on the training volumes (see the module docstring).

    Args:
        volumes: the training items (pre-processed, not augmented), e.g. a bundle's ``data#train_volumes``.
        key: the image key.
        epsilon: regulariser of the eigenvalues (``>= 0``).
        patch_size: k of the k x k patches (odd).
        num_patches: patches sampled over all training slices.
        slice_axis: spatial axis across which slices are taken (2 = axial).
        seed: sampling seed.
        progress: progress bar while sampling.

    Returns:
        The fitted :class:`ZCAWhitening`.
    """
    patches = sample_patches(volumes, key, patch_size, num_patches, slice_axis, seed, progress)
    n, c = patches.shape[:2]
    fits = [zca_matrix(patches[:, ch].reshape(n, -1), epsilon) for ch in range(c)]
    mean, matrix, eigenvalues = (torch.stack(parts) for parts in zip(*fits))
    info = {"num_patches": int(n), "num_volumes": len(volumes), "seed": int(seed), "patch_size": int(patch_size)}
    return ZCAWhitening(mean, matrix, epsilon, eigenvalues, slice_axis, info)


def zca_whitening_for_training(
    enabled: bool | str,
    path: str | os.PathLike,
    volumes: Sequence[Mapping[Hashable, Any]],
    epsilon: float = 0.01,
    patch_size: int = 5,
    num_patches: int = 20000,
    seed: int = 0,
    resume: bool | str = False,
    key: str = "image",
    slice_axis: int = 2,
) -> list[ZCAWhiteningd]:
    """The training pipeline's ``whitening`` slot: ``[ZCAWhiteningd]`` when enabled, else ``[]``.

    Enabled: fit on ``volumes`` and save to ``path`` (next to the checkpoint), or, when resuming and ``path`` exists,
    load it so the resumed run keeps its transform. Disabled: a ``path`` left by an earlier whitened run in the same
    checkpoint folder is removed (evaluation and inference apply ``path`` when it exists, and the new ``model.pt``
    is trained without it); when resuming, such a file is an error (the run being resumed was whitened).

    Args:
        enabled: switch (a bool, or ``"true"``/``"false"`` from the command line).
        path: file of the stored transform, ``<ckpt_dir>/whitening.pt``.
        volumes: the training items to fit on (only read when fitting).
        epsilon, patch_size, num_patches, seed, slice_axis: see :func:`fit_zca_whitening`.
        resume: the training run resumes from its latest checkpoint.
        key: the image key.

    Raises:
        ValueError: resuming without whitening a run that stored one.
    """
    from engines.flags import as_flag as _as_flag

    enabled, resume, path = _as_flag(enabled, "zca_whitening"), _as_flag(resume, "resume"), Path(path)
    if not enabled:
        if path.is_file():
            if resume:
                raise ValueError(
                    f"{path}: the run being resumed was trained with ZCA whitening; resume with --zca_whitening true."
                )
            logger.warning(f"removing {path}: this run trains without ZCA whitening")
            path.unlink()
        return []
    if resume and path.is_file():
        whitening = ZCAWhitening.load(path)
        logger.info(f"resuming with the stored ZCA whitening {path}: {whitening!r}")
    else:
        whitening = fit_zca_whitening(volumes, key, epsilon, patch_size, num_patches, slice_axis, seed)
        whitening.save(path)
        logger.info(f"ZCA whitening fitted on {whitening.info['num_patches']} training patches, stored as {path}")
    return [ZCAWhiteningd(keys=key, whitening=whitening)]


def stored_zca_whitening(path: str | os.PathLike, key: str = "image") -> list[ZCAWhiteningd]:
    """Evaluation / inference ``whitening`` slot: the transform stored by training at ``path`` if there is one.

    Returns ``[ZCAWhiteningd]`` loading ``path`` (``<ckpt_dir>/whitening.pt``), or ``[]`` when the checkpoint was
    trained without whitening (no file).
    """
    path = Path(path)
    if not path.is_file():
        return []
    whitening = ZCAWhitening.load(path)
    logger.info(f"applying the stored ZCA whitening {path}: {whitening!r}")
    return [ZCAWhiteningd(keys=key, whitening=whitening)]
