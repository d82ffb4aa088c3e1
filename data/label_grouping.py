"""A user's label grouping for the generic path (the bundle's top-level ``labels``): the data set's labels replaced
by classes or regions made of its label values, in nnU-Net's ``dataset.json`` syntax.

``{"background": 0, "tumour": [1, 2, 3]}`` makes one region (a list of values: one sigmoid output), seed 000's
whole tumour on MSD Task01; ``{"background": 0, "edema": 1, "tumour core": [2, 3]}`` makes two regions (as in
nnU-Net, one list makes every label a region); plain values (``{"background": 0, "oedema": 1, ...}``) name the
classes again. The values are the data set's label values as stored in its files. Region-based groupings need
nnU-Net's ``regions_class_order`` (the value each region's prediction is written as, later regions over earlier
ones); when not given it is derived: per region, the smallest of its values that no later region holds
(``[[1, 2, 3], [2, 3], [3]]`` -> ``[1, 2, 3]``, one region ``[1, 2, 3]`` -> ``[1]``). To give it, pass the
``dataset.json`` fragment ``{"labels": {...}, "regions_class_order": [...]}`` instead of the mapping.

Rules (checked against the data set, every problem named with its ``dataset.json`` and the valid values listed):
every value is a label value of the data set; the background is the value 0; a region holds foreground values
only; a class grouping names every label value once (a value without a class has no training index); the regions'
written values are label values of the data set (nnU-Net's ``regions_class_order`` check otherwise).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from data.errors import DatasetError
from data.problems import IntegrityReport
from formats.nnunet_v2.discovery import check_regions_class_order, clean_labels
from formats.registry import DatasetSpec

__all__ = [
    "GROUPING_KEY",
    "dataset_label_values",
    "derive_regions_class_order",
    "group_labels",
    "label_grouping_of",
    "parse_label_grouping",
    "same_grouping",
]

GROUPING_KEY = "label_grouping"  # DatasetSpec.extra: the validated grouping of a grouped spec
_VALUES_KEY = "dataset_label_values"  # DatasetSpec.extra: the data set's own label values, kept when grouped
logger = logging.getLogger(__name__)


def parse_label_grouping(value: Any) -> tuple[dict, list | None] | None:
    """The mapping and the explicit ``regions_class_order`` (or None) of a ``labels`` value.

    Args:
        value: None / ``""`` / ``"null"`` (no grouping), a mapping ``name -> value or list of values``, the
            ``dataset.json`` fragment ``{"labels": {...}, "regions_class_order": [...]}``, or either as a JSON or
            Python-literal string.

    Raises:
        DatasetError: a string that is not such a literal, or a value that is not a mapping.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "null", "none")):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            try:
                value = ast.literal_eval(value)
            except (ValueError, SyntaxError) as exc:
                raise DatasetError(
                    f"--labels {value!r} is not a mapping ({exc}); write it as "
                    "\"{'background': 0, 'tumour': [1, 2, 3]}\""
                ) from None
    if not isinstance(value, Mapping) or not value:
        raise DatasetError(
            f"--labels {value!r} is not a mapping; write name -> label value or list of values, e.g. "
            "\"{'background': 0, 'tumour': [1, 2, 3]}\""
        )
    if isinstance(value.get("labels"), Mapping):  # dataset.json fragment
        unknown = sorted(set(value) - {"labels", "regions_class_order"})
        if unknown:
            raise DatasetError(
                f"--labels: unknown key(s) {unknown} beside 'labels'; the fragment holds 'labels' and "
                "'regions_class_order' only"
            )
        order = value.get("regions_class_order")
        return dict(value["labels"]), (list(order) if isinstance(order, (list, tuple)) else order)
    return dict(value), None


def dataset_label_values(spec: DatasetSpec) -> list[int]:
    """The label values stored in the data set's files (sorted; a grouped spec keeps its data set's)."""
    if _VALUES_KEY in spec.extra:
        return list(spec.extra[_VALUES_KEY])
    if spec.label_values is not None:
        return sorted({int(v) for v in spec.label_values})
    return sorted({int(v) for x in spec.labels.values() for v in (x if isinstance(x, (list, tuple)) else [x])})


def _value_names(spec: DatasetSpec) -> str:
    """``0 background, 1 edema, ...`` (class data sets), or the values alone (region-based data sets)."""
    values = dataset_label_values(spec)
    if spec.region_based or GROUPING_KEY in spec.extra:
        return ", ".join(str(v) for v in values)
    ordered = sorted(spec.labels.items(), key=lambda kv: kv[1])
    by_value = {int((spec.label_values or values)[i]): name for i, (name, _) in enumerate(ordered)}
    return ", ".join(f"{v} {by_value[v]}" if v in by_value else str(v) for v in values)


def derive_regions_class_order(labels: Mapping[str, int | list[int]]) -> list[int] | None:
    """Per region (background excluded, in order), the smallest of its values that no later region holds; None when
    a region has none (it lies inside the later ones: the order must be given)."""
    regions = [[v] if isinstance(v, int) else list(v) for v in labels.values() if v != 0]
    order = []
    for i, values in enumerate(regions):
        later = {v for region in regions[i + 1 :] for v in region}
        own = sorted(set(values) - later)
        if not own:
            return None
        order.append(own[0])
    return order


def _where(spec: DatasetSpec) -> Path:
    path = Path(spec.root) / "dataset.json"
    return path if path.is_file() else Path(spec.root)


def group_labels(spec: DatasetSpec, grouping: Any) -> DatasetSpec:
    """``spec`` with its labels replaced by ``grouping`` (validated against the data set; see the module docstring).

    Args:
        spec: the data set as its format discovered it.
        grouping: a ``labels`` value (:func:`parse_label_grouping`); None: ``spec`` unchanged.

    Returns:
        A copy of ``spec``: classes -> ``labels`` name -> training index and ``label_values`` the values in that
        order; regions -> ``labels`` as given, ``label_values`` every value of the data set and
        ``regions_class_order``. ``extra["label_grouping"]`` holds the grouping in ``dataset.json`` form.

    Raises:
        DatasetError: naming the data set's ``dataset.json`` (or its folder) and listing every problem and the valid
            label values.
    """
    parsed = parse_label_grouping(grouping)
    if parsed is None:
        return spec
    mapping, order = parsed
    where = _where(spec)
    valid = dataset_label_values(spec)
    report = IntegrityReport(spec.format, spec.root)
    report.num_cases = len(spec.training)
    labels = clean_labels(mapping, where, report)
    if labels is not None:
        order = _check(labels, order, valid, where, report)
    if report.errors:
        lines = [f"{f.path}: {f.message}" for f in report.errors]
        raise DatasetError(
            "\n".join(lines) + f"\n--labels {mapping}: label values of {spec.name} ({where}): {_value_names(spec)}; "
            "write name -> value, or name -> list of values for a region (nnU-Net's dataset.json syntax)."
        )
    assert labels is not None
    extra = {**spec.extra, GROUPING_KEY: {"labels": labels, "regions_class_order": order}, _VALUES_KEY: valid}
    if order is None:  # classes: training index = rank of the value
        ranked = sorted(labels.items(), key=lambda kv: kv[1])
        values = [int(v) for _, v in ranked]
        return dataclasses.replace(
            spec, labels={name: i for i, (name, _) in enumerate(ranked)}, extra=extra,
            label_values=None if values == list(range(len(values))) else values, regions_class_order=None,
        )  # fmt: skip
    return dataclasses.replace(spec, labels=labels, label_values=valid, regions_class_order=order, extra=extra)


def _check(
    labels: dict[str, int | list[int]], order: Any, valid: list[int], where: Path, report: IntegrityReport
) -> list[int] | None:
    """The rules of the module docstring; returns the regions_class_order (None: classes)."""
    background = [name for name, v in labels.items() if v == 0]
    if not background:
        report.error(where, "--labels must map the background to 0 (e.g. 'background': 0)")
    for name, value in labels.items():
        values = value if isinstance(value, list) else [value]
        unknown = sorted(set(values) - set(valid))
        if unknown:
            report.error(where, f"--labels {name!r}: {unknown} not among the data set's label values {valid}")
        if isinstance(value, list) and 0 in value:
            report.error(where, f"--labels {name!r}: a region holds foreground values only, not the background 0")
    if report.errors:
        return None
    if not any(isinstance(v, list) for v in labels.values()):  # classes
        if order is not None:
            report.warning(where, "--labels: regions_class_order is ignored: no label is a region (a list of values)")
        seen: dict[int, list[str]] = {}
        for name, value in labels.items():
            seen.setdefault(int(value), []).append(name)
        for value, names in seen.items():
            if len(names) > 1:
                report.error(
                    where, f"--labels {names} all hold {value}: a class names one value; a list of values makes a "
                    f"region (one sigmoid output), e.g. {{'background': 0, 'tumour': [1, 2, 3]}}"
                )
        missing = sorted(set(valid) - set(seen))
        if missing:
            report.error(
                where, f"--labels leaves label value(s) {missing} without a class; name every value, or group "
                "values into regions (lists: one sigmoid output each)"
            )
        return None
    if len(background) > 1:
        report.error(where, f"--labels {background} all hold the background 0; name it once")
    if order is None:
        order = derive_regions_class_order(labels)
        if order is None:
            report.error(
                where, "--labels: a region lies inside the later regions, so the value it is written as cannot be "
                "derived; give it: \"{'labels': {...}, 'regions_class_order': [one value per region]}\""
            )
            return None
        logger.info("label grouping: regions %s written as %s", [k for k, v in labels.items() if v != 0], order)
    checked = check_regions_class_order(labels, order, where, report)
    if checked is not None and not set(checked) <= set(valid) - {0}:
        report.error(
            where, f"--labels: regions_class_order {checked} must hold foreground label values of the data set "
            f"({[v for v in valid if v]})"
        )
    uncovered = sorted(set(valid) - {0} - {v for v in labels.values() if isinstance(v, list) for v in v}
                       - {v for v in labels.values() if isinstance(v, int)})  # fmt: skip
    if uncovered:
        logger.info("label grouping: value(s) %s lie in no region (background for every region)", uncovered)
    return checked


def label_grouping_of(
    labels: Mapping[str, Any], label_values: list[int] | None, regions_class_order: list[int] | None
) -> dict:
    """The grouping in ``dataset.json`` form (``{"labels": name -> value(s), "regions_class_order": ...}``) of a
    spec's or a plan's label fields (class labels there map names to training indices; here to label values)."""
    if any(isinstance(v, (list, tuple)) for v in labels.values()):
        regions = {str(k): ([int(x) for x in v] if isinstance(v, (list, tuple)) else int(v)) for k, v in labels.items()}
        return {"labels": regions, "regions_class_order": [int(v) for v in regions_class_order or []]}
    values = list(label_values) if label_values else None
    return {
        "labels": {str(k): int(values[int(v)]) if values else int(v) for k, v in labels.items()},
        "regions_class_order": None,
    }


def same_grouping(a: Mapping, b: Mapping) -> bool:
    """Whether two groupings of :func:`label_grouping_of` train and write the same: classes as sets of
    (name, value), regions in order with their written values."""
    if (a["regions_class_order"] is None) != (b["regions_class_order"] is None):
        return False
    if a["regions_class_order"] is None:
        return dict(a["labels"]) == dict(b["labels"])
    regions = [[(k, v) for k, v in g["labels"].items() if v != 0] for g in (a, b)]
    return regions[0] == regions[1] and list(a["regions_class_order"]) == list(b["regions_class_order"])
