"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import locale
import os
from pathlib import Path

import pytest
import torch

from formats.msd.synthetic import generate_msd_task01

# tiny but complete: 32 x 32 in-plane matches the smallest roi the bundle tests use; 12 axial slices per case
# The tests push tiny tensors: one intra-op thread is as fast, and avoids OpenMP threads spinning against
# the bundle subprocesses some tests start (seen: 50x slower network tests with 2 threads on 2 busy cores).
torch.set_num_threads(1)



@pytest.fixture(autouse=True)
def _keep_the_locale():
    """ITK (GDCM) switches the process to the C locale when it writes or reads some files (DICOM series), after
    which text decoded with the preferred encoding (subprocess output, ``Path.write_text``) is ASCII: later tests
    failed with UnicodeDecodeError depending on their order. Each test gets the locale back as it found it."""
    saved = locale.setlocale(locale.LC_ALL)
    yield
    if locale.setlocale(locale.LC_ALL) != saved:
        locale.setlocale(locale.LC_ALL, saved)


@pytest.fixture(scope="session", autouse=True)
def _runs_root(tmp_path_factory: pytest.TempPathFactory):
    """Run folders of bundles trained by the tests (train.yaml's ``runs_root``, read from ``UNET_RUNS_ROOT``, which
    the bundle subprocesses inherit) go to a temporary folder, never to the repository's ``runs/``."""
    saved = os.environ.get("UNET_RUNS_ROOT")
    os.environ["UNET_RUNS_ROOT"] = str(tmp_path_factory.mktemp("runs"))
    yield
    if saved is None:
        os.environ.pop("UNET_RUNS_ROOT", None)
    else:
        os.environ["UNET_RUNS_ROOT"] = saved


SYNTHETIC_MSD = {"num_training": 6, "num_test": 2, "spatial_size": (32, 32, 12), "seed": 0}


@pytest.fixture(scope="session")
def synthetic_msd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Root folder (plays ``Task01_BrainTumour/``) of a synthetic MSD Task01 data set made once per session.

    6 training cases (BRATS_001..006) and 2 test cases (BRATS_485, 486) of 32 x 32 x 12 voxels, seed 0. Treat
    it as read-only: tests that need a broken data set copy it first.
    """
    return generate_msd_task01(tmp_path_factory.mktemp("msd") / "Task01_BrainTumour", **SYNTHETIC_MSD)


@pytest.fixture(scope="session")
def format_twins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny synthetic twin of every registered format (tests/twins.py), written once per session; read-only."""
    from formats import FORMATS
    from tests.twins import TINY_TWINS

    base = tmp_path_factory.mktemp("format_twins")
    return {name: FORMATS.get(name).synthesize(base / name, **options) for name, options in TINY_TWINS.items()}
