"""Synthetic stand-in for BraTS2020 (seed 001), written in the release's on-disk layout.

One folder per case, ``BraTS20_Training_NNN/`` holding ``BraTS20_Training_NNN_{flair,t1,t1ce,t2,seg}.nii.gz``,
plus ``name_mapping.csv`` beside the folders, as in ``MICCAI_BraTS2020_TrainingData/``. The voxels are the
cartoon brains of :func:`formats.msd.synthetic.synthesize_brain_tumour_case` (the same tumour model as the
MSD Task01 twin, whose cases are BraTS cases too) with the labels renumbered to BraTS's: 1 necrotic and
non-enhancing core, 2 edema, 4 enhancing tumour. Images are written as int16 and the segmentation as uint8,
with a 1 mm LPS affine; real releases differ in the stored dtypes, which the readers do not depend on.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from formats.brats2020.discovery import BRATS_MODALITIES
from formats.msd.synthetic import msd_task01_affine, save_nifti, synthesize_brain_tumour_case

__all__ = ["generate_brats2020", "BRATS_NAME_MAPPING_HEADER"]

# MSD channel order (FLAIR, T1w, t1gd, T2w) -> BraTS file suffix
_MSD_CHANNEL = {"flair": 0, "t1": 1, "t1ce": 2, "t2": 3}
# MSD labels (0 background, 1 edema, 2 non-enhancing, 3 enhancing) -> BraTS labels (2 edema, 1 NCR/NET, 4 ET)
_MSD_TO_BRATS = np.array([0, 2, 1, 4], dtype=np.uint8)
BRATS_NAME_MAPPING_HEADER = (
    "Grade", "BraTS_2017_subject_ID", "BraTS_2018_subject_ID", "TCGA_TCIA_subject_ID", "BraTS_2019_subject_ID",
    "BraTS_2020_subject_ID",
)  # fmt: skip


def generate_brats2020(
    output_dir: str | Path,
    num_cases: int = 12,
    spatial_size: Sequence[int] = (64, 64, 40),
    seed: int = 0,
    split: str = "Training",
    suffix: str = ".nii.gz",
    overwrite: bool = False,
) -> Path:
    """Write a synthetic data set in the layout of ``MICCAI_BraTS2020_TrainingData/``.

    Case ``BraTS20_<split>_NNN`` is drawn with seed ``(seed, NNN)``, so a case does not depend on how many
    others are written. ``name_mapping.csv`` is written last (a folder without it is incomplete).

    Args:
        output_dir: folder to write (plays ``MICCAI_BraTS2020_TrainingData/``); created if needed.
        num_cases: number of case folders (369 in the real training release).
        spatial_size: (X, Y, Z) voxels per volume; 240 x 240 x 155 is the real size.
        seed: base seed; the same seed writes identical voxels.
        split: ``"Training"`` (with ``_seg``) or ``"Validation"`` (no ``_seg``, as in the real release).
        suffix: ``".nii.gz"`` (the official release) or ``".nii"`` (as some copies hold).
        overwrite: write even if ``name_mapping.csv`` exists.

    Returns:
        ``output_dir`` as a ``Path``.

    Raises:
        FileExistsError: ``name_mapping.csv`` exists and ``overwrite`` is False.
        ValueError: bad ``split``, ``suffix`` or counts.
    """
    if split not in ("Training", "Validation"):
        raise ValueError(f"split must be 'Training' or 'Validation', got {split!r}.")
    if suffix not in (".nii.gz", ".nii"):
        raise ValueError(f"suffix must be '.nii.gz' or '.nii', got {suffix!r}.")
    if num_cases < 0:
        raise ValueError(f"num_cases must be >= 0, got {num_cases}.")
    root = Path(output_dir)
    mapping = root / ("name_mapping.csv" if split == "Training" else "name_mapping_validation_data.csv")
    if mapping.exists() and not overwrite:
        raise FileExistsError(f"{mapping} exists; pass overwrite=True to write the data set again.")
    shape = tuple(int(s) for s in spatial_size)
    affine = msd_task01_affine(shape)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for number in range(1, num_cases + 1):
        case_id = f"BraTS20_{split}_{number:03d}"
        folder = root / case_id
        folder.mkdir(exist_ok=True)
        case = synthesize_brain_tumour_case(shape, seed=(seed, number))
        for modality in BRATS_MODALITIES:
            channel = case.image[..., _MSD_CHANNEL[modality]]
            save_nifti(np.round(channel).astype(np.int16), affine, folder / f"{case_id}_{modality}{suffix}")
        if split == "Training":
            save_nifti(_MSD_TO_BRATS[case.label], affine, folder / f"{case_id}_seg{suffix}")
        rows.append(("HGG" if number % 4 else "LGG", "NA", "NA", "NA", "NA", case_id))
    with mapping.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(BRATS_NAME_MAPPING_HEADER)
        writer.writerows(rows)
    return root
