"""Synthetic stand-in for the Figshare brain-tumour data set (seed 003), written as real MATLAB v7.3 MAT-files.

Each file is what MATLAB's ``save(..., "cjdata", "-v7.3")`` writes: a 512-byte MATLAB header
(``MATLAB 7.3 MAT-file, ... HDF5 schema 1.00 .``, version 0x0200, endian ``IM``) as the HDF5 user block, then
group ``/cjdata`` (``MATLAB_class = "struct"``, ``MATLAB_fields`` listing the fields in order) holding
``label`` (double, 1 x 1), ``PID`` (char: uint16 codes, ``MATLAB_int_decode = 2``), ``image`` (int16),
``tumorBorder`` (double, 1 x 2K) and ``tumorMask`` (logical: uint8, ``MATLAB_int_decode = 1``), every array
stored transposed as MATLAB's column-major layout appears in HDF5.

The content is a cartoon of an axial contrast-enhanced T1 slice: an elliptic head with a bright scalp and
dark skull, grey brain with texture, dark ventricles, and one tumour whose place, size and look follow its
class (1 meningioma: round, bright, at the brain's edge; 2 glioma: irregular, ring-enhancing, in a
hemisphere; 3 pituitary: small, bright, low and central). A patient's images are neighbouring slices of one
head and tumour, so they look alike: splitting by image instead of by patient would leak.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage

__all__ = ["generate_figshare", "matlab_v73_header", "synthesize_figshare_slice", "write_figshare_mat"]

_FIELDS = ("label", "PID", "image", "tumorBorder", "tumorMask")


def matlab_v73_header(platform: str = "GLNXA64", created: str | None = None) -> bytes:
    """The 512-byte user block MATLAB writes before the HDF5 data of a v7.3 MAT-file."""
    created = created or time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(0))
    text = f"MATLAB 7.3 MAT-file, Platform: {platform}, Created on: {created} HDF5 schema 1.00 .".encode("ascii")
    header = text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    return header.ljust(512, b"\x00")


def _class_attr(node, name: str, int_decode: int | None = None) -> None:
    node.attrs.create("MATLAB_class", np.bytes_(name))
    if int_decode is not None:
        node.attrs.create("MATLAB_int_decode", np.int32(int_decode))


def write_figshare_mat(
    path: str | Path, image: np.ndarray, mask: np.ndarray, label: int, pid: str, border: np.ndarray
) -> Path:
    """Write one MATLAB v7.3 file with struct ``cjdata`` as in the Figshare release.

    Args:
        path: output ``.mat`` path.
        image: (rows, cols) integer image, written as int16.
        mask: (rows, cols) tumour mask of 0/1, written as MATLAB logical.
        label: tumour class 1..3.
        pid: patient id (written as a MATLAB 1 x N char array).
        border: polygon ``[x1, y1, x2, y2, ...]`` (1-based MATLAB coordinates), written as 1 x 2K double.
    """
    import h5py

    path = Path(path)

    def matlab(array: np.ndarray) -> np.ndarray:
        """A MATLAB (rows, cols) array as HDF5 stores it: transposed (column-major)."""
        return np.ascontiguousarray(np.asarray(array).T)

    with h5py.File(path, "w", userblock_size=512) as f:
        group = f.create_group("cjdata")
        _class_attr(group, "struct")
        names = np.empty(len(_FIELDS), dtype=object)
        names[:] = [np.frombuffer(n.encode("ascii"), dtype="S1") for n in _FIELDS]
        group.attrs.create("MATLAB_fields", names, dtype=h5py.vlen_dtype(np.dtype("S1")))
        _class_attr(group.create_dataset("label", data=matlab(np.array([[float(label)]]))), "double")
        codes = np.array([[ord(c) for c in pid]], dtype=np.uint16)  # 1 x N char
        _class_attr(group.create_dataset("PID", data=matlab(codes)), "char", int_decode=2)
        _class_attr(group.create_dataset("image", data=matlab(image.astype(np.int16))), "int16")
        border_row = np.asarray(border, dtype=np.float64).reshape(1, -1)
        _class_attr(group.create_dataset("tumorBorder", data=matlab(border_row)), "double")
        _class_attr(group.create_dataset("tumorMask", data=matlab(mask.astype(np.uint8))), "logical", int_decode=1)
    with open(path, "r+b") as handle:  # the user block is reserved by h5py; MATLAB's header goes there
        handle.write(matlab_v73_header())
    return path


def _border_polygon(mask: np.ndarray, max_points: int = 64) -> np.ndarray:
    """Boundary pixels of ``mask`` ordered by angle around the centroid, as ``[x1, y1, ...]`` 1-based."""
    edge = mask & ~ndimage.binary_erosion(mask)
    rows, cols = np.nonzero(edge)
    if rows.size == 0:
        return np.zeros(0)
    angle = np.arctan2(rows - rows.mean(), cols - cols.mean())
    order = np.argsort(angle)[:: max(1, rows.size // max_points)]
    return np.stack([cols[order] + 1.0, rows[order] + 1.0], axis=1).ravel()


def synthesize_figshare_slice(
    size: int,
    tumour_class: int,
    patient_seed: int | Sequence[int],
    slice_position: float,
    noise_seed: int | Sequence[int],
) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic slice: int16 image and uint8 mask, both (size, size).

    Args:
        size: side in pixels (512 in the release).
        tumour_class: 1 meningioma, 2 glioma, 3 pituitary.
        patient_seed: fixes the head and tumour of a patient.
        slice_position: in [-1, 1], where the slice cuts the tumour (0 = through its centre).
        noise_seed: fixes texture and noise of this slice.
    """
    patient = np.random.default_rng(patient_seed)
    rng = np.random.default_rng(noise_seed)
    s = float(size)
    yy, xx = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32), indexing="ij")
    cy, cx = s * (0.5 + patient.uniform(-0.03, 0.03)), s * (0.5 + patient.uniform(-0.03, 0.03))
    ay, ax = s * patient.uniform(0.36, 0.42), s * patient.uniform(0.30, 0.36)
    rho = np.sqrt(((yy - cy) / ay) ** 2 + ((xx - cx) / ax) ** 2)
    image = np.zeros((size, size), dtype=np.float32)
    image[rho < 1.0] = 700.0  # scalp
    image[rho < 0.94] = 120.0  # skull
    brain = rho < 0.88
    texture = ndimage.gaussian_filter(rng.standard_normal((size, size)).astype(np.float32), s / 60.0)
    texture /= max(float(texture.std()), 1e-6)
    image[brain] = 420.0 + 25.0 * texture[brain]
    for side in (-1.0, 1.0):
        ventricle = ((yy - cy + 0.05 * ay) / (0.22 * ay)) ** 2 + ((xx - cx - side * 0.1 * ax) / (0.07 * ax)) ** 2 < 1
        image[ventricle & brain] = 150.0
    # tumour: centre, radius and look by class; the slice position shrinks it away from its centre
    if tumour_class == 1:  # meningioma: at the brain's edge
        angle = patient.uniform(0, 2 * np.pi)
        ty, tx = cy + 0.72 * ay * np.sin(angle), cx + 0.72 * ax * np.cos(angle)
        radius, level, irregular = s * patient.uniform(0.07, 0.11), 900.0, 0.08
    elif tumour_class == 2:  # glioma: in a hemisphere, irregular, ring-enhancing
        ty = cy + patient.uniform(-0.35, 0.35) * ay
        tx = cx + patient.choice([-1.0, 1.0]) * patient.uniform(0.25, 0.5) * ax
        radius, level, irregular = s * patient.uniform(0.08, 0.13), 650.0, 0.25
    elif tumour_class == 3:  # pituitary: small, low and central
        ty, tx = cy + 0.35 * ay, cx + patient.uniform(-0.04, 0.04) * ax
        radius, level, irregular = s * patient.uniform(0.04, 0.06), 850.0, 0.05
    else:
        raise ValueError(f"tumour_class must be 1, 2 or 3, got {tumour_class}.")
    radius *= np.sqrt(max(0.15, 1.0 - 0.8 * slice_position**2))
    wobble = ndimage.gaussian_filter(patient.standard_normal((size, size)).astype(np.float32), s / 25.0)
    wobble /= max(float(np.abs(wobble).max()), 1e-6)
    tumour_r = np.sqrt((yy - ty) ** 2 + (xx - tx) ** 2) / radius * (1.0 + irregular * wobble)
    mask = (tumour_r < 1.0) & (rho < 0.9)
    if tumour_class == 2:
        image[mask] = np.where(tumour_r[mask] > 0.7, level + 150.0, level - 250.0)  # bright rim, dark core
    else:
        image[mask] = level
    image[mask] += 40.0 * texture[mask]
    image = ndimage.gaussian_filter(image, sigma=max(0.6, s / 400.0))
    image += rng.normal(scale=18.0, size=image.shape).astype(np.float32)
    return np.clip(np.round(image), 0, 32767).astype(np.int16), mask.astype(np.uint8)


def generate_figshare(
    output_dir: str | Path,
    num_images: int = 48,
    num_patients: int = 8,
    size: int = 512,
    seed: int = 0,
    files_per_folder: int = 766,
    overwrite: bool = False,
) -> Path:
    """Write ``1.mat`` ... ``N.mat`` in folders ``brainTumorDataPublic_1-766`` ... as in the release.

    Patients get distinct 6-digit PIDs, one tumour class each (cycling 1, 2, 3), and at least one image; the
    remaining images are spread over them at random. Files are numbered patient after patient. A
    ``README.txt`` is written last (a folder without it is incomplete).

    Args:
        output_dir: folder to write; created if needed.
        num_images: number of files (3064 in the release).
        num_patients: number of patients (233 in the release); at most ``num_images``.
        size: image side (512 in the release).
        seed: base seed; the same seed writes identical pixels.
        files_per_folder: files per ``brainTumorDataPublic_a-b`` folder (766 as in the release).
        overwrite: write even if ``README.txt`` exists.

    Returns:
        ``output_dir`` as a ``Path``.
    """
    root = Path(output_dir)
    if (root / "README.txt").exists() and not overwrite:
        raise FileExistsError(f"{root / 'README.txt'} exists; pass overwrite=True to write the data set again.")
    if not 1 <= num_patients <= num_images:
        raise ValueError(f"need 1 <= num_patients <= num_images, got {num_patients} and {num_images}.")
    if size < 16 or files_per_folder < 1:
        raise ValueError(f"need size >= 16 and files_per_folder >= 1, got {size} and {files_per_folder}.")
    rng = np.random.default_rng((seed, 3064))
    pids = rng.choice(np.arange(100000, 1000000), size=num_patients, replace=False)
    counts = np.ones(num_patients, dtype=int) + np.bincount(
        rng.integers(0, num_patients, size=num_images - num_patients), minlength=num_patients
    )
    number = 0
    for patient, (pid, count) in enumerate(zip(pids, counts)):
        tumour_class = patient % 3 + 1
        for k in range(count):
            number += 1
            first = (number - 1) // files_per_folder * files_per_folder + 1
            last = min(first + files_per_folder - 1, num_images)
            folder = root / f"brainTumorDataPublic_{first}-{last}"
            folder.mkdir(parents=True, exist_ok=True)
            position = 0.0 if count == 1 else -0.9 + 1.8 * k / (count - 1)
            image, mask = synthesize_figshare_slice(size, tumour_class, (seed, int(pid)), position, (seed, number))
            write_figshare_mat(folder / f"{number}.mat", image, mask, tumour_class, str(pid), _border_polygon(mask > 0))
    (root / "README.txt").write_text(
        f"SYNTHETIC stand-in for the figshare brain tumor dataset (format of Cheng et al.), made by "
        f"formats.figshare.synthetic with seed {seed}: {num_images} images of {size}x{size}, {num_patients} "
        "patients.\nEach .mat file (MATLAB v7.3) holds struct cjdata with fields label (1 meningioma, 2 glioma, "
        "3 pituitary tumor), PID, image, tumorBorder, tumorMask.\n",
        encoding="utf-8",
    )
    return root
