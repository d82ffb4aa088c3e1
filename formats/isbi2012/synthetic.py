"""Synthetic stand-in for the ISBI 2012 EM stacks (seed 002), written as the challenge's multi-page TIFFs.

``train-volume.tif`` (8-bit grey pages), ``train-labels.tif`` (255 = cell, 0 = membrane) and
``test-volume.tif``, 30 pages of 512 x 512 by default. The pages are a cartoon of serial-section TEM of neural
tissue: cells are the regions of a warped Voronoi tessellation of jittered-grid seeds that drift slowly from page
to page (so neighbouring sections look alike, as in the real stack), membranes are dark bands of a few pixels between
cells, and cells hold dark organelles (mitochondria- and vesicle-like blobs) that are *cell* in the labels,
so a network must learn more than "dark = membrane". Smooth texture, blur and noise on top. Deterministic
from the seed and vectorised (one k-d tree query per page).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

__all__ = ["SyntheticStack", "generate_isbi2012", "synthesize_em_stack", "write_tiff_stack"]


class SyntheticStack(NamedTuple):
    """``images`` uint8 (pages, rows, columns); ``labels`` uint8 of 0 (membrane) and 255 (cell), same shape."""

    images: np.ndarray
    labels: np.ndarray


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise scaled to unit standard deviation."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma=sigma, mode="wrap")
    return field / max(float(field.std()), 1e-6)


def synthesize_em_stack(
    num_pages: int = 30,
    size: int | tuple[int, int] = 512,
    seed: int | tuple[int, ...] = 0,
    cell_diameter: float | None = None,
    membrane_width: float | None = None,
) -> SyntheticStack:
    """Pages of EM-like cells with membranes, and their labels.

    Args:
        num_pages: number of sections.
        size: page size (rows, columns) or one int for square pages.
        seed: random seed (an int or a tuple of ints).
        cell_diameter: typical cell diameter in pixels; default 1/12 of the smaller side (about 43 px at 512,
            the scale of the real stack), at least 12.
        membrane_width: membrane thickness in pixels; default 1/14 of the cell diameter, at least 1.5.

    Returns:
        A :class:`SyntheticStack`.
    """
    rows, cols = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    rng = np.random.default_rng(seed)
    diameter = float(cell_diameter) if cell_diameter is not None else max(12.0, min(rows, cols) / 12.0)
    width = float(membrane_width) if membrane_width is not None else max(1.5, diameter / 14.0)
    # jittered grid of cell seeds (a margin of one cell around the page), so cell sizes vary but not wildly
    step = 0.9 * diameter
    gy, gx = np.meshgrid(np.arange(-step, rows + step, step), np.arange(-step, cols + step, step), indexing="ij")
    seeds = np.stack([gy.ravel(), gx.ravel()], axis=1) + rng.uniform(-0.4 * step, 0.4 * step, size=(gy.size, 2))
    num_cells = len(seeds)
    drift = rng.normal(scale=0.04 * diameter, size=(num_cells, 2))  # per page
    brightness = rng.uniform(0.55, 0.8, size=num_cells).astype(np.float32)
    yy, xx = np.meshgrid(np.arange(rows, dtype=np.float32), np.arange(cols, dtype=np.float32), indexing="ij")
    images = np.empty((num_pages, rows, cols), dtype=np.uint8)
    labels = np.empty((num_pages, rows, cols), dtype=np.uint8)
    for page in range(num_pages):
        centres = seeds + page * drift
        warp = 0.12 * diameter
        wy = yy + warp * _smooth_noise(rng, (rows, cols), diameter / 1.5)
        wx = xx + warp * _smooth_noise(rng, (rows, cols), diameter / 1.5)
        dist, index = cKDTree(centres).query(np.stack([wy.ravel(), wx.ravel()], axis=1), k=2)
        gap = (dist[:, 1] - dist[:, 0]).reshape(rows, cols)  # ~ twice the distance to the nearest cell border
        cell = index[:, 0].reshape(rows, cols)
        membrane = gap < width
        # organelles: dark elliptic blobs well inside cells (not on membranes), labelled as cell
        blobs = np.zeros((rows, cols), dtype=bool)
        num_blobs = int(rng.poisson(0.4 * num_cells))
        for cy, cx, r, ecc, angle in zip(
            rng.uniform(0, rows, num_blobs), rng.uniform(0, cols, num_blobs), rng.uniform(0.06, 0.14, num_blobs),
            rng.uniform(0.5, 1.0, num_blobs), rng.uniform(0, np.pi, num_blobs),
        ):  # fmt: skip
            radius = r * diameter
            y0, y1 = max(0, int(cy - radius) - 1), min(rows, int(cy + radius) + 2)
            x0, x1 = max(0, int(cx - radius) - 1), min(cols, int(cx + radius) + 2)
            dy, dx = yy[y0:y1, x0:x1] - cy, xx[y0:y1, x0:x1] - cx
            u = dy * np.cos(angle) + dx * np.sin(angle)
            v = -dy * np.sin(angle) + dx * np.cos(angle)
            blobs[y0:y1, x0:x1] |= (u / radius) ** 2 + (v / (ecc * radius)) ** 2 < 1.0
        blobs &= gap > 3.0 * width
        texture = _smooth_noise(rng, (rows, cols), max(1.0, diameter / 10.0))
        image = brightness[cell] + 0.04 * texture
        image = np.where(blobs, 0.33 + 0.05 * texture, image)
        image = np.where(membrane, 0.15 + 0.04 * texture, image)
        image = ndimage.gaussian_filter(image, sigma=max(0.5, width / 3.0))
        image += rng.normal(scale=0.045, size=image.shape).astype(np.float32)
        images[page] = np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
        labels[page] = np.where(membrane, 0, 255).astype(np.uint8)
    return SyntheticStack(images=images, labels=labels)


def write_tiff_stack(path: str | Path, pages: np.ndarray) -> Path:
    """Write (pages, rows, columns) uint8 as an ImageJ-style multi-page grey TIFF, one page per section."""
    import tifffile

    path = Path(path)
    tifffile.imwrite(path, np.ascontiguousarray(pages), imagej=True, photometric="minisblack")
    return path


def generate_isbi2012(
    output_dir: str | Path,
    num_pages: int = 30,
    size: int = 512,
    seed: int = 0,
    with_test: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write ``train-volume.tif``, ``train-labels.tif`` (and ``test-volume.tif``) as in the ISBI 2012 challenge.

    Args:
        output_dir: folder to write; created if needed.
        num_pages: pages per stack (30 in the challenge).
        size: page side in pixels (512 in the challenge).
        seed: base seed; the training stack uses ``(seed, 0)``, the test stack ``(seed, 1)``.
        with_test: also write the unlabelled ``test-volume.tif``.
        overwrite: write even if ``train-labels.tif`` exists.

    Returns:
        ``output_dir`` as a ``Path``.

    Raises:
        FileExistsError: ``train-labels.tif`` exists and ``overwrite`` is False.
    """
    root = Path(output_dir)
    if (root / "train-labels.tif").exists() and not overwrite:
        raise FileExistsError(f"{root / 'train-labels.tif'} exists; pass overwrite=True to write the data set again.")
    if num_pages < 1 or size < 8:
        raise ValueError(f"need num_pages >= 1 and size >= 8, got {num_pages} and {size}.")
    root.mkdir(parents=True, exist_ok=True)
    train = synthesize_em_stack(num_pages, size, seed=(seed, 0))
    write_tiff_stack(root / "train-volume.tif", train.images)
    if with_test:
        write_tiff_stack(root / "test-volume.tif", synthesize_em_stack(num_pages, size, seed=(seed, 1)).images)
    write_tiff_stack(root / "train-labels.tif", train.labels)  # last: its presence marks a complete data set
    return root
