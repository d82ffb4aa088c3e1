"""Synthetic stand-ins for seed 004's PNG data sets: Liver (CT slices, liver masks) and Cell (EM, cell masks).

Written as 8-bit grey PNG files in an images folder and a masks folder (masks 0/255), matched by name
(``images/000.png`` with ``masks/000.png``, or ``_mask``-suffixed names in one folder), 512 x 512 by default.

* ``"liver"``: a cartoon of an abdominal CT slice in a soft-tissue window: body outline with fat, muscle and
  a vertebra, the liver (a smooth lobed blob on the image's left, slightly brighter than other organs), a
  kidney, the stomach with air; the liver's size follows the slice's place in the volume.
* ``"cell"``: the EM pages of :func:`formats.isbi2012.synthetic.synthesize_em_stack` (seed 004's Cell set is
  30 EM images of 512 x 512); masks are 255 for cells, 0 for membranes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from formats.isbi2012.synthetic import synthesize_em_stack

__all__ = ["generate_png_pairs", "synthesize_liver_slice"]


def _ellipse(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1.0


def synthesize_liver_slice(size: int, position: float, seed: int | tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """One CT-like slice and its liver mask, both uint8 (size, size); the mask is 0/255.

    Args:
        size: side in pixels.
        position: in [0, 1], the slice's place from the liver's top (small liver) to its middle (large).
        seed: random seed of shapes, texture and noise.
    """
    rng = np.random.default_rng(seed)
    s = float(size)
    yy, xx = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32), indexing="ij")
    cy, cx = s * 0.5, s * 0.5
    hu = np.full((size, size), -1000.0, dtype=np.float32)  # air
    body = _ellipse(yy, xx, cy, cx, s * rng.uniform(0.30, 0.34), s * rng.uniform(0.42, 0.46))
    hu[body] = -100.0  # fat
    inner = _ellipse(yy, xx, cy, cx, s * 0.27, s * 0.39)
    hu[inner] = 40.0  # muscle / soft tissue
    vertebra = _ellipse(yy, xx, cy + s * 0.2, cx, s * 0.06, s * 0.06)
    kidney = _ellipse(yy, xx, cy + s * 0.13, cx + s * 0.16, s * 0.06, s * 0.045)
    stomach = _ellipse(yy, xx, cy - s * 0.05, cx + s * 0.17, s * 0.09, s * 0.08)
    scale = 0.45 + 0.55 * float(np.clip(position, 0.0, 1.0))
    lobes = np.zeros((size, size), dtype=bool)
    for dy, dx, ry, rx in ((0.0, 0.0, 0.19, 0.17), (0.09, 0.07, 0.1, 0.12), (-0.06, 0.1, 0.09, 0.1)):
        jitter = rng.uniform(-0.02, 0.02, size=2)
        lobes |= _ellipse(
            yy, xx, cy + s * (dy + jitter[0]) * scale, cx - s * (0.17 - dx - jitter[1]) * scale,
            s * ry * scale, s * rx * scale,
        )  # fmt: skip
    others = ndimage.binary_dilation(vertebra | kidney | stomach, iterations=max(1, size // 128))
    liver = ndimage.binary_opening(lobes & inner & ~others, iterations=2)
    hu[liver] = 90.0
    hu[vertebra] = 600.0
    hu[kidney] = 30.0
    hu[stomach] = 20.0
    hu[stomach & (yy < cy - s * 0.08)] = -900.0  # air in the stomach
    texture = ndimage.gaussian_filter(rng.standard_normal((size, size)).astype(np.float32), max(1.0, s / 200.0))
    hu += 12.0 * texture / max(float(texture.std()), 1e-6)
    hu = ndimage.gaussian_filter(hu, sigma=max(0.5, s / 500.0))
    hu += rng.normal(scale=10.0, size=hu.shape).astype(np.float32)
    window = np.clip((hu - (50.0 - 200.0)) / 400.0, 0.0, 1.0)  # soft-tissue window: level 50, width 400
    return np.round(window * 255.0).astype(np.uint8), np.where(liver, 255, 0).astype(np.uint8)


def _save_png(array: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(array, mode="L").save(path)


def generate_png_pairs(
    output_dir: str | Path,
    kind: str = "liver",
    num_images: int = 20,
    size: int = 512,
    seed: int = 0,
    images_dir: str = "images",
    masks_dir: str = "masks",
    mask_suffix: str = "",
    overwrite: bool = False,
) -> Path:
    """Write ``num_images`` PNG pairs ``{images_dir}/NNN.png`` and ``{masks_dir}/NNN{mask_suffix}.png``.

    Args:
        output_dir: folder to write; created if needed.
        kind: ``"liver"`` (seed 004's Liver: 400 images) or ``"cell"`` (Cell: 30 images).
        num_images: number of pairs.
        size: side in pixels (512 in seed 004).
        seed: base seed; the same seed writes identical pixels.
        images_dir: sub-folder of the images.
        masks_dir: sub-folder of the masks (may equal ``images_dir`` when ``mask_suffix`` is set).
        mask_suffix: appended to a mask's name (``"_mask"`` gives ``000_mask.png``).
        overwrite: write even if the masks folder holds masks already.

    Returns:
        ``output_dir`` as a ``Path``.
    """
    if kind not in ("liver", "cell"):
        raise ValueError(f"kind must be 'liver' or 'cell', got {kind!r}.")
    if images_dir == masks_dir and not mask_suffix:
        raise ValueError("images and masks in one folder need a mask_suffix.")
    if num_images < 1 or size < 16:
        raise ValueError(f"need num_images >= 1 and size >= 16, got {num_images} and {size}.")
    root = Path(output_dir)
    width = max(3, len(str(num_images - 1)))
    masks_root = root / masks_dir
    existing = sorted(masks_root.glob(f"*{mask_suffix}.png")) if masks_root.is_dir() else []
    if existing and not overwrite:
        raise FileExistsError(f"{masks_root} exists with {len(existing)} mask(s); pass overwrite=True to write again.")
    (root / images_dir).mkdir(parents=True, exist_ok=True)
    (root / masks_dir).mkdir(parents=True, exist_ok=True)
    if kind == "cell":
        stack = synthesize_em_stack(num_images, size, seed=(seed, 4))
        pairs = zip(stack.images, stack.labels)
    else:
        pairs = (
            synthesize_liver_slice(size, position=(i % 10) / 9.0, seed=(seed, i)) for i in range(num_images)
        )  # ten slices per "volume", from the liver's top to its middle
    for i, (image, mask) in enumerate(pairs):
        _save_png(image, root / images_dir / f"{i:0{width}d}.png")
        _save_png(mask, root / masks_dir / f"{i:0{width}d}{mask_suffix}.png")
    return root
