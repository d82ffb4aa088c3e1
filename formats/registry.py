"""The registry of data formats: one plug-in per on-disk layout, looked up by name (the ``SlotRegistry`` pattern of
``networks/``).

A format is a subclass of :class:`DataFormat` in its own folder ``formats/<name>/`` and is registered once with
``@FORMATS.register``. Every part of the project that needs a data set (bundles, the integrity check, the synthetic
data command, the slice store, packaging, the comparison runner) asks :data:`FORMATS` instead of keeping a list.

What a format provides, under the same names in every folder:

- ``detect(root)``: a cheap look at a folder (file names only) -- is it this format?
- ``discover(root, report, **options)``: one pass over the folder that returns a :class:`DatasetSpec` (cases, channel
  and class names) and records *every* problem it finds in ``report`` (an :class:`~data.IntegrityReport`, the one
  problem collector), each naming its file; ``options`` are the format's own (which modalities, file names,
  the channel count a bundle expects, ...) and what discovery learnt is kept in the spec for the later parts;
- ``check_case(case, spec, report)``: the per-case content checks (decodable, shapes, geometry, label values);
- ``load_transforms(spec)``: the MONAI dictionary transforms that read one case into a channel-first ``image``
  (C, *spatial) and ``label`` (1, *spatial) with its geometry in the MetaTensor's meta;
- ``synthesize(out_dir, **options)``: its synthetic twin, written in the real on-disk format (imported lazily,
  so a packaged bundle need not carry the generators).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from tqdm import tqdm

from data.errors import DatasetError
from data.problems import IntegrityReport

__all__ = ["DataFormat", "DatasetSpec", "FormatRegistry", "FORMATS"]


@dataclass
class DatasetSpec:
    """A data set as discovered by its format: what every later stage (fingerprint, plan, pipeline) reads.

    Attributes:
        format: registered name of the format that read it (``"msd"``, ``"nnunet_v2"``, ...).
        root: the data set folder (absolute).
        name: the data set's own name (``dataset.json``'s ``name``, else the folder name).
        channel_names: one name per input channel, in channel order (``["FLAIR", "T1w", ...]``, ``["CT"]``); the
            names choose the normalisation (``CT`` -> CT scheme) and label the pictures.
        labels: class or region name -> training index (consecutive from 0, background 0), or, for region-based
            labels (nnU-Net's ``"whole tumor": [1, 2, 3]``), name -> list of label values.
        training: labelled cases, each a MONAI-style dict with at least ``case_id``, ``image`` (a path, or one path
            per channel) and ``label``; ``group`` (e.g. the patient) when cases of one group must stay together.
        test: unlabelled cases (``case_id``, ``image``).
        spatial_dims: 2 or 3, the dimensionality of the files.
        label_values: values of the classes in the files, in training-index order, when they differ from
            ``0..N-1`` (BraTS: ``[0, 1, 2, 4]``); predictions are written back with these values.
        regions_class_order: for region-based labels, the label value each region's prediction is written as
            (nnU-Net's ``regions_class_order``).
        extra: format-specific facts (file ending, modality dictionary, ...), for the format's own transforms.
    """

    format: str
    root: Path
    name: str
    channel_names: list[str]
    labels: dict[str, int | list[int]]
    training: list[dict] = field(default_factory=list)
    test: list[dict] = field(default_factory=list)
    spatial_dims: int = 3
    label_values: list[int] | None = None
    regions_class_order: list[int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def region_based(self) -> bool:
        """True when some label is a list of values (nnU-Net regions): one sigmoid output per region."""
        return any(isinstance(v, (list, tuple)) for v in self.labels.values())

    @property
    def num_channels(self) -> int:
        return len(self.channel_names)

    @property
    def class_names(self) -> list[str]:
        """Names in training-index order (regions: in declaration order, background excluded)."""
        if self.region_based:
            return [k for k, v in self.labels.items() if isinstance(v, (list, tuple)) or v != 0]
        return [name for name, _ in sorted(self.labels.items(), key=lambda kv: kv[1])]

    @property
    def num_classes(self) -> int:
        """Output channels of a network for this data set: classes with background (softmax), or regions."""
        return len(self.class_names)


class DataFormat:
    """Base class of a data-format plug-in (see the module docstring for the parts and their contracts).

    Subclasses set :attr:`name` and :attr:`description` and implement :meth:`detect`, :meth:`discover`,
    :meth:`check_case`, :meth:`load_transforms` and :meth:`synthesize`.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: (bundle training config, its slice-store override file) that build this format's preprocessed slice store,
    #: for ``scripts/build_slice_store.py``; None when the format has no store.
    slice_store: ClassVar[tuple[str, str] | None] = None

    def detect(self, root: Path) -> bool:
        """Whether ``root`` looks like this format, from file names only (no file is decoded)."""
        raise NotImplementedError

    def discover(self, root: Path, report: IntegrityReport, **options: Any) -> DatasetSpec | None:
        """One pass over ``root``: the data set, with every problem recorded in ``report`` (None if unusable).

        Reads names and headers only (no voxel data), so a bundle can run it at every start. Sets
        ``report.num_cases``.
        """
        raise NotImplementedError

    def cases_to_check(self, spec: DatasetSpec) -> Iterable[dict]:
        """The cases :meth:`check_case` decodes in a full check: training then test cases."""
        return [*spec.training, *spec.test]

    def check_case(self, case: dict, spec: DatasetSpec, report: IntegrityReport) -> None:
        """Content checks of one case (decode, shapes, geometry, label values); problems go to ``report``."""
        raise NotImplementedError

    def load_transforms(self, spec: DatasetSpec) -> list[Callable]:
        """Dictionary transforms reading one case into channel-first ``image`` and ``label`` MetaTensors.

        The default suits formats whose image is one volume file, or one file per channel (a list, stacked), in any
        format :class:`~transforms.LoadVolumed` reads (NIfTI, NRRD, MHA, DICOM, ...): it reads and puts channels
        first. Formats with other files (TIFF stacks, MATLAB files, PNG pairs) override it.
        """
        from monai.transforms import EnsureChannelFirstd

        from transforms.io import LoadVolumed

        keys = ["image", "label"]
        return [LoadVolumed(keys=keys, allow_missing_keys=True), EnsureChannelFirstd(keys=keys, allow_missing_keys=True)]

    def synthesize(self, out_dir: str | os.PathLike, **options: Any) -> Path:
        """Write this format's synthetic twin into ``out_dir`` and return the data set folder."""
        raise NotImplementedError

    def add_check_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Command-line options of ``scripts/check_dataset.py <name>``, named as :meth:`discover`'s options."""

    def add_synthetic_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Command-line options of ``scripts/make_synthetic.py <name>``, named as :meth:`synthesize`'s options."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class FormatRegistry:
    """Name -> :class:`DataFormat` plug-in; an unknown name fails with the list of the valid ones."""

    def __init__(self) -> None:
        self._formats: dict[str, DataFormat] = {}

    def register(self, cls: type[DataFormat]) -> type[DataFormat]:
        """Class decorator: register one instance of ``cls`` under ``cls.name`` (lower case, unique)."""
        key = cls.name.lower()
        if not key:
            raise ValueError(f"{cls.__qualname__} has no `name`; a data format needs one to be registered.")
        if key in self._formats:
            raise ValueError(f"data format {key!r} is already registered to {self._formats[key]!r}.")
        self._formats[key] = cls()
        return cls

    def names(self) -> list[str]:
        """Sorted registered names."""
        return sorted(self._formats)

    def get(self, name: str) -> DataFormat:
        """The plug-in registered as ``name``.

        Raises:
            ValueError: ``name`` is not registered; the message lists the valid names.
        """
        if not isinstance(name, str) or name.lower() not in self._formats:
            raise ValueError(f"unknown data format {name!r}; valid names: {', '.join(self.names())}.")
        return self._formats[name.lower()]

    def detect(self, root: str | os.PathLike, candidates: Sequence[str] | None = None) -> str:
        """Name of the one format whose :meth:`DataFormat.detect` accepts ``root``.

        Raises:
            DatasetError: naming the folder when no format, or more than one, accepts it.
        """
        folder = Path(root).expanduser().absolute()
        if not folder.is_dir():
            raise DatasetError(f"{folder}: not a folder (--dataset_dir must be a data set folder).")
        names = list(candidates) if candidates is not None else self.names()
        found = [n for n in names if self.get(n).detect(folder)]
        if len(found) == 1:
            return found[0]
        if not found:
            raise DatasetError(
                f"{folder}: not a data set folder of any known format ({', '.join(names)}); name it with "
                "--data_format (docs/adding_a_data_format.md describes each layout)."
            )
        raise DatasetError(f"{folder}: looks like several formats ({', '.join(found)}); choose one with --data_format.")

    def discover(
        self, root: str | os.PathLike, name: str = "auto", **options: Any
    ) -> tuple[DatasetSpec | None, IntegrityReport]:
        """Discovery of ``root`` in format ``name`` (``"auto"``: :meth:`detect`), with its report.

        Args:
            root: the data set folder.
            name: a registered format name, or ``"auto"``.
            options: keyword arguments of that format's :meth:`DataFormat.discover`.
        """
        folder = Path(root).expanduser().absolute()
        fmt = self.get(self.detect(folder) if name in (None, "", "auto") else name)
        report = IntegrityReport(fmt.name, folder)
        return fmt.discover(folder, report, **options), report

    def open(self, root: str | os.PathLike, name: str = "auto", **options: Any) -> DatasetSpec:
        """The data set in ``root``, or :class:`~data.DatasetError` listing every problem of its discovery.

        Args:
            root: the data set folder.
            name: a registered format name, or ``"auto"``.
            options: keyword arguments of that format's :meth:`DataFormat.discover`.
        """
        spec, report = self.discover(root, name, **options)
        report.raise_if_errors()
        if spec is None:  # a discovery that gives up must have said why
            raise DatasetError(report.format())
        return spec

    def check(
        self, root: str | os.PathLike, name: str = "auto", progress: bool = True, **options: Any
    ) -> IntegrityReport:
        """The full integrity check of ``root``: discovery, then :meth:`DataFormat.check_case` of every case.

        Every problem is recorded, none raised for bad data.

        Args:
            root: the data set folder.
            name: a registered format name, or ``"auto"``.
            progress: show a progress bar over the cases.
            options: keyword arguments of that format's :meth:`DataFormat.discover`.

        Returns:
            The :class:`~data.IntegrityReport` of discovery and content checks.
        """
        folder = Path(root).expanduser().absolute()
        if name in (None, "", "auto"):
            try:
                name = self.detect(folder)
            except DatasetError as err:
                report = IntegrityReport("auto", folder)
                report.record(folder, err)
                return report
        fmt = self.get(name)
        report = IntegrityReport(fmt.name, folder)
        spec = fmt.discover(folder, report, **options)
        if spec is not None:
            cases = list(fmt.cases_to_check(spec))
            for case in tqdm(cases, desc=f"checking {fmt.name} cases", unit="case", disable=not progress):
                fmt.check_case(case, spec, report)
        return report

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._formats

    def __repr__(self) -> str:
        return f"FormatRegistry(names={self.names()})"


FORMATS = FormatRegistry()
