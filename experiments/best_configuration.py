"""Model selection the way nnU-Net does it, for any of our architectures (issue 18): every configuration
(architecture bundle x 2D / 3D, the generic path's default recipe) is trained on every fold of a k-fold
cross-validation by case, each fold's model predicts that fold's validation cases (out-of-fold predictions), the
predictions are scored (Dice per class, or per region for region-based labels, mean over cases, then over
classes), keeping the largest connected component of a class is decided on them (nnU-Net's rule: only where it
raises the held-out Dice), and the configurations are ranked by cross-validation Dice after that post-processing.

Training runs are the stock command (``python -m monai.bundle run`` of the generic path with ``--fold i --num_folds
k``, one run folder per fold: exactly what a user types, and a complete run folder). The out-of-fold predictions
run in process through the same config list plus ``any_dataset_inference.yaml`` (the run's saved plan and best
model, label maps in the input's geometry): no interpreter start-up per fold.

Layout of the work folder::

    <work>/folds.json                           the validation cases of each fold
    <work>/runs/<bundle>/<d>d_fold_<i>/         the fold's run folder (models/, train/, configs/, run.json)
    <work>/runs/<bundle>/<d>d_fold_<i>/oof/     its out-of-fold label maps; train.log, selection.json
    <work>/cases_<configuration>.csv            Dice per case and class, without / with the post-processing
    <work>/best_configuration.csv, .md          the table (one row per configuration, ranked)
    <work>/cv_dice.png                          bar chart of the cross-validation Dice
    <work>/winner.json                          the winner, its run folders, post-processing, the two commands

``scripts/find_best_configuration.py`` is the command line; docs/model_selection.md.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import catalog
from experiments.accuracy import run_logged
from experiments.results import mean_sd

if TYPE_CHECKING:
    from experiments.postprocessing import Regions

__all__ = [
    "ANY",
    "ENSEMBLE",
    "INFERENCE",
    "Configuration",
    "ConfigurationResult",
    "best_fold",
    "case_dice",
    "configurations",
    "ensemble_command",
    "export_command",
    "find_best_configuration",
    "fold_validation_cases",
    "parse_overrides",
    "predict_fold",
    "rank",
    "score_configuration",
    "train_fold",
    "write_tables",
]

ROOT = Path(__file__).resolve().parents[1]
ANY, INFERENCE, ENSEMBLE = (catalog.generic_file(w) for w in ("train", "inference", "ensemble"))
MARKER = "selection.json"


@dataclass(frozen=True)
class Configuration:
    """One candidate: an architecture bundle of the repository in 2D or 3D, on the generic path."""

    bundle: str
    spatial_dims: int

    @property
    def name(self) -> str:
        """``unet_2d``."""
        return f"{self.bundle}_{self.spatial_dims}d"

    def run_dir(self, work_dir: str | os.PathLike, fold: int) -> Path:
        """``<work_dir>/runs/<bundle>/<d>d_fold_<i>``: the repository's run-folder layout (``runs/<bundle>/<name>``),
        so that ``scripts/package_bundle.py --run_dir`` finds the bundle."""
        return Path(work_dir) / "runs" / self.bundle / f"{self.spatial_dims}d_fold_{fold}"

    def train_files(self) -> list[str]:
        """The training config list: the bundle's (``catalog.config_files``), then ``any_dataset.yaml``."""
        return [*catalog.config_files(self.bundle, "train"), ANY]


def configurations(bundles: Sequence[str], spatial_dims: Sequence[int], data_dims: int) -> list[Configuration]:
    """Every bundle x spatial_dims, 3D only for a 3D data set (``data_dims`` 3).

    Raises:
        ValueError: an unknown bundle (the message lists the bundles), spatial_dims other than 2 / 3, or nothing
            left to compare.
    """
    known = catalog.bundle_names()
    unknown = [b for b in bundles if b not in known]
    if unknown:
        raise ValueError(f"unknown bundle(s) {unknown}; the bundles are {', '.join(known)}")
    if any(int(d) not in (2, 3) for d in spatial_dims):
        raise ValueError(f"spatial_dims must be 2 and / or 3, got {list(spatial_dims)}")
    dims = [int(d) for d in dict.fromkeys(spatial_dims) if int(d) == 2 or data_dims == 3]
    out = [Configuration(b, d) for b in dict.fromkeys(bundles) for d in dims]
    if not out:
        raise ValueError(f"no configuration: a {data_dims}D data set has no 3D configuration; add --spatial_dims 2")
    return out


def parse_overrides(args: Sequence[str]) -> dict[str, Any]:
    """``["--epochs", "1", "--plan#features", "4"]`` -> ``{"epochs": 1, "plan#features": 4}``, values parsed as
    MONAI's command line parses them (``engines.run_folder.cli_invocation``)."""
    from engines.run_folder import cli_invocation

    parsed = cli_invocation(["--config_file", "x", *args])
    return parsed[1] if parsed else {}


# keys the selection sets itself for every run
_OWN_KEYS = frozenset("dataset_dir fold num_folds spatial_dims run_dir ckpt_dir output_dir seed fingerprint_dir".split())


def _check_overrides(overrides: dict[str, Any]) -> None:
    clash = sorted(set(overrides) & _OWN_KEYS)
    if clash:
        raise ValueError(f"overrides {clash} are set by the model selection itself (use its own arguments)")


def fold_validation_cases(
    dataset_dir: str | os.PathLike, num_folds: int, seed: int = 0, data_format: str = "auto"
) -> list[list[dict]]:
    """The validation cases of each fold, computed by the function the generic path splits with
    (``data.loaders.split_cases``), so they are the cases each fold's run held out."""
    from data.loaders import open_dataset, split_cases

    spec = open_dataset(str(dataset_dir), data_format)
    return [split_cases(spec, seed=seed, fold=i, num_folds=num_folds)[1] for i in range(num_folds)]


def case_dice(
    pred: np.ndarray, label: np.ndarray, classes: Sequence[int], regions: Regions | None = None
) -> dict[int, float]:
    """Dice of each class (label value) of one case; NaN where the class is absent from both (nnU-Net leaves such
    a case out of that class's mean). With ``regions`` (``experiments.postprocessing.Regions``), ``classes`` are
    values of ``regions_class_order`` and each region is scored whole (its mask read back from both maps)."""
    from experiments.postprocessing import class_mask, mask_dice

    nan = float("nan")
    return {int(c): mask_dice(class_mask(pred, c, regions), class_mask(label, c, regions), empty=nan) for c in classes}


def _mean_over_classes(rows: Sequence[dict[int, float]], classes: Sequence[int]) -> float:
    """Mean over the cases (NaN left out) per class, then over the classes."""
    per_class = []
    for c in classes:
        values = [r[c] for r in rows if not math.isnan(r[c])]
        if values:
            per_class.append(float(np.mean(values)))
    return float(np.mean(per_class)) if per_class else float("nan")


@dataclass
class ConfigurationResult:
    """The cross-validation of one configuration.

    Attributes:
        configuration: what was trained.
        run_dirs: the fold run folders, fold order.
        fold_dice: mean Dice (cases, then classes) of each fold's validation cases without post-processing.
        fold_dice_pp: the same with the decided post-processing.
        decision: the keep-largest-component decision (``experiments.postprocessing.ComponentDecision``).
        classes: the foreground label values scored.
        train_seconds: wall time of each fold's training command (0 when reused).
    """

    configuration: Configuration
    run_dirs: list[str]
    fold_dice: list[float]
    fold_dice_pp: list[float]
    decision: Any
    classes: list[int]
    train_seconds: list[float] = field(default_factory=list)

    @property
    def cv_dice(self) -> tuple[float, float]:
        """Mean and sd over the folds, without post-processing."""
        return mean_sd(self.fold_dice)

    @property
    def cv_dice_pp(self) -> tuple[float, float]:
        """Mean and sd over the folds, with the decided post-processing: the ranking's number."""
        return mean_sd(self.fold_dice_pp)


def score_configuration(
    configuration: Configuration,
    run_dirs: Sequence[str | os.PathLike],
    fold_cases: Sequence[Sequence[dict]],
    pred_dirs: Sequence[str | os.PathLike],
    classes: Sequence[int],
    out_csv: str | os.PathLike | None = None,
    regions: Regions | None = None,
) -> ConfigurationResult:
    """Score the out-of-fold predictions, decide keep-largest-component per class on all of them, score again.

    Args:
        configuration: the configuration the predictions come from.
        run_dirs: the fold run folders.
        fold_cases: per fold its validation cases (``case_id``, ``label`` path).
        pred_dirs: per fold the folder of its out-of-fold label maps (``<case_id>.<ext>``).
        classes: foreground label values to score and decide on.
        out_csv: optional per-case table (fold, case, Dice per class without / with post-processing).
        regions: a region-based plan's ``experiments.postprocessing.Regions`` (``classes`` are then values of its
            ``regions_class_order``): scored and decided per region, as nnU-Net does.

    Raises:
        FileNotFoundError: a case has no prediction (names the case and the folder).
        ValueError: a prediction's shape differs from its label's.
    """
    from experiments.postprocessing import decide_largest_component, keep_largest_component
    from formats.nnunet_v2.readers import read_channel_file

    preds, labels, folds, names = [], [], [], []
    for fold, (cases, pred_dir) in enumerate(zip(fold_cases, pred_dirs)):
        for case in cases:
            found = sorted(p for p in Path(pred_dir).glob(f"{case['case_id']}.*") if p.is_file())
            if not found:
                raise FileNotFoundError(f"{pred_dir}: no prediction of validation case {case['case_id']} (fold {fold})")
            pred = np.rint(read_channel_file(found[0])[0]).astype(np.int64)
            label = np.rint(read_channel_file(case["label"])[0]).astype(np.int64)
            if pred.shape != label.shape:
                raise ValueError(f"{found[0]}: shape {pred.shape} differs from its label's {label.shape} ({case['label']})")
            preds.append(pred)
            labels.append(label)
            folds.append(fold)
            names.append(case["case_id"])
    decision = decide_largest_component(preds, labels, classes, regions=regions)
    before = [case_dice(p, g, classes, regions) for p, g in zip(preds, labels)]
    after = [case_dice(keep_largest_component(p, decision.classes, regions), g, classes, regions)
             for p, g in zip(preds, labels)]
    num_folds = len(fold_cases)
    fold_dice = [_mean_over_classes([r for r, f in zip(before, folds) if f == k], classes) for k in range(num_folds)]
    fold_pp = [_mean_over_classes([r for r, f in zip(after, folds) if f == k], classes) for k in range(num_folds)]
    if out_csv is not None:
        with open(out_csv, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["fold", "case", *[f"dice_{c}" for c in classes], *[f"dice_{c}_pp" for c in classes]])
            for f, n, b, a in zip(folds, names, before, after):
                writer.writerow([f, n, *[f"{b[c]:.6f}" for c in classes], *[f"{a[c]:.6f}" for c in classes]])
    return ConfigurationResult(configuration, [str(r) for r in run_dirs], fold_dice, fold_pp, decision, list(classes))


def rank(results: Sequence[ConfigurationResult]) -> list[ConfigurationResult]:
    """Best first by cross-validation Dice with post-processing (NaN last; ties keep the given order)."""
    def key(r: ConfigurationResult) -> float:
        mean = r.cv_dice_pp[0]
        return -math.inf if math.isnan(mean) else mean

    return sorted(results, key=key, reverse=True)


def _config_arg(files: Sequence[str]) -> str:
    return '"[' + ",".join(f"'{f}'" for f in files) + ']"'


def _override_args(overrides: dict[str, Any]) -> str:
    parts = []
    for k, v in overrides.items():
        text = v if isinstance(v, str) else json.dumps(v)
        parts.append(f"--{k} {shlex.quote(text)}")
    return " ".join(parts)


def ensemble_command(
    result: ConfigurationResult, dataset_dir: str | os.PathLike, overrides: dict[str, Any], output_dir: str | os.PathLike
) -> str:
    """The one-line command inferring with the ensemble of the configuration's folds and its post-processing."""
    files = [*result.configuration.train_files(), INFERENCE, ENSEMBLE]
    members = "[" + ",".join(f"'{r}'" for r in result.run_dirs) + "]"
    return (
        f"python -m monai.bundle run --config_file {_config_arg(files)} --dataset_dir {shlex.quote(str(dataset_dir))} "
        f"--spatial_dims {result.configuration.spatial_dims} --ensemble \"{members}\" "
        f"--keep_largest \"{json.dumps(result.decision.classes)}\" --output_dir {shlex.quote(str(output_dir))}"
        + (f" {_override_args(overrides)}" if overrides else "")
    )


def best_fold(result: ConfigurationResult) -> int:
    """The fold whose model scored best on its own validation cases (with the post-processing)."""
    scores = [(-math.inf if math.isnan(d) else d) for d in result.fold_dice_pp]
    return int(np.argmax(scores))


def export_command(result: ConfigurationResult, out_dir: str | os.PathLike) -> str:
    """The one-line command packaging the configuration as a bundle (``scripts/package_bundle.py``): the best
    fold's run (its configs, plan and weights: ``evaluate.yaml`` uses that model), with ``--ensemble`` the weights of
    every fold, which the packaged ``inference.yaml`` averages, and ``--keep_largest`` the decided post-processing."""
    keep = " ".join(str(c) for c in result.decision.classes)
    return (
        f"python scripts/package_bundle.py --run_dir {shlex.quote(result.run_dirs[best_fold(result)])} "
        f"--ensemble {' '.join(shlex.quote(r) for r in result.run_dirs)}"
        + (f" --keep_largest {keep}" if keep else "")
        + f" --out {shlex.quote(str(out_dir))}"
    )


def _fmt(mean: float, sd: float) -> str:
    if math.isnan(mean):
        return "-"
    return f"{mean:.4f}" if math.isnan(sd) else f"{mean:.4f} ± {sd:.4f}"


def _decision_text(result: ConfigurationResult) -> str:
    d = result.decision
    return "; ".join(
        f"{c}: {d.dice_before[c]:.3f}->{d.dice_after[c]:.3f} {'apply' if c in d.classes else 'no'}" for c in sorted(d.dice_before)
    )


def write_tables(ranked: Sequence[ConfigurationResult], work_dir: str | os.PathLike) -> str:
    """``best_configuration.csv``, ``best_configuration.md`` and ``cv_dice.png`` in ``work_dir``; returns the
    Markdown table."""
    from experiments.results import bar_chart

    work_dir = Path(work_dir)
    columns = ["rank", "configuration", "bundle", "spatial_dims", "folds", "cv_dice_mean", "cv_dice_sd",
               "cv_dice_pp_mean", "cv_dice_pp_sd", "keep_largest", "decision", "fold_dice", "fold_dice_pp"]
    with open(work_dir / "best_configuration.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for i, r in enumerate(ranked, 1):
            writer.writerow([
                i, r.configuration.name, r.configuration.bundle, r.configuration.spatial_dims, len(r.run_dirs),
                *r.cv_dice, *r.cv_dice_pp, " ".join(str(c) for c in r.decision.classes), _decision_text(r),
                " ".join(f"{d:.6f}" for d in r.fold_dice), " ".join(f"{d:.6f}" for d in r.fold_dice_pp),
            ])  # fmt: skip
    lines = [
        "| rank | configuration | folds | CV Dice (no post-processing) | CV Dice (with post-processing) | "
        "keep largest component (class: Dice before->after) |",
        "|---:|---|---:|---:|---:|---|",
    ]
    for i, r in enumerate(ranked, 1):
        lines.append(f"| {i} | {r.configuration.name} | {len(r.run_dirs)} | {_fmt(*r.cv_dice)} | {_fmt(*r.cv_dice_pp)} | "
                     f"{_decision_text(r)} |")
    table = "\n".join(lines) + "\n"
    (work_dir / "best_configuration.md").write_text(table, encoding="utf-8")
    rows = [{"bundle": r.configuration.name, "variant": "", "loss": "bundle", "cv_dice_mean": r.cv_dice_pp[0],
             "cv_dice_sd": r.cv_dice_pp[1]} for r in ranked]
    bar_chart(rows, "cv_dice", work_dir / "cv_dice.png",
              title="cross-validation Dice with post-processing (mean ± sd over folds)")
    return table


def _train_command(config: Configuration, dataset_dir: Path, fold: int, num_folds: int, seed: int, run_dir: Path,
                   fingerprint_dir: Path, overrides: Sequence[str]) -> list[str]:
    return [
        sys.executable, "-m", "monai.bundle", "run", "--config_file", _config_arg(config.train_files()).strip('"'),
        "--dataset_dir", str(dataset_dir), "--spatial_dims", str(config.spatial_dims), "--fold", str(fold),
        "--num_folds", str(num_folds), "--seed", str(seed), "--run_dir", str(run_dir),
        "--fingerprint_dir", str(fingerprint_dir), *overrides,
    ]  # fmt: skip


def train_fold(command: list[str], run_dir: Path) -> float:
    """Run the training ``command`` (its output in ``<run_dir>/train.log``) unless ``run_dir`` holds a finished
    run of the same command (``selection.json`` and ``models/model.pt``): then 0.0, else the wall time.

    Raises:
        RuntimeError: training failed; the message names the log and shows its end.
    """
    marker = run_dir / MARKER
    if marker.is_file() and (run_dir / "models" / "model.pt").is_file():
        if json.loads(marker.read_text(encoding="utf-8")).get("command") == command[1:]:
            return 0.0
    if run_dir.exists():  # an unfinished or different earlier run of this work folder
        shutil.rmtree(run_dir)
    log_file = run_dir.parent / f"{run_dir.name}.train.log"
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    elapsed = run_logged(command, log_file)
    if not (run_dir / "models" / "model.pt").is_file():
        raise RuntimeError(f"training {run_dir} wrote no models/model.pt; log {log_file}")
    shutil.move(str(log_file), run_dir / "train.log")
    marker.write_text(json.dumps({"command": command[1:], "seconds": elapsed}, indent=2) + "\n", encoding="utf-8")
    return elapsed


def predict_fold(
    config: Configuration, dataset_dir: Path, run_dir: Path, cases: Sequence[dict], out_dir: Path,
    overrides: dict[str, Any], fingerprint_dir: Path,
) -> Path:
    """Out-of-fold predictions: the fold's best model (its saved plan) on its validation cases, in process through
    the config list of the run plus ``any_dataset_inference.yaml``; label maps in the inputs' geometry and format
    in ``out_dir``."""
    from monai.bundle import ConfigParser

    if out_dir.exists():
        shutil.rmtree(out_dir)
    parser = ConfigParser()
    with contextlib.chdir(ROOT):
        parser.read_config([str(ROOT / f) for f in [*config.train_files(), INFERENCE]])
        parser.update({
            **overrides, "dataset_dir": str(dataset_dir), "spatial_dims": config.spatial_dims, "run_dir": str(run_dir),
            "output_dir": str(out_dir), "fingerprint_dir": str(fingerprint_dir), "prediction_ending": "input",
            "infer_files": [{"case_id": c["case_id"], "image": c["image"]} for c in cases],
        })  # fmt: skip
        parser.get_parsed_content("infer#evaluator").run()
    return out_dir


def _plan_classes(run_dir: Path) -> tuple[list[int], Regions | None]:
    """The values scored and decided on (classes' label values, or ``regions_class_order``) and the plan's
    ``experiments.postprocessing.Regions`` (None for classes)."""
    from experiments.postprocessing import Regions

    plan = json.loads((run_dir / "models" / "plan.json").read_text(encoding="utf-8"))
    if plan.get("region_based"):
        return [int(v) for v in plan["regions_class_order"]], Regions.from_plan(plan)
    return [int(v) for v in (plan.get("label_values") or range(int(plan["out_channels"])))][1:], None


def find_best_configuration(
    dataset_dir: str | os.PathLike,
    bundles: Sequence[str],
    spatial_dims: Sequence[int] = (2,),
    num_folds: int = 5,
    work_dir: str | os.PathLike = "best_configuration",
    overrides: Sequence[str] = (),
    seed: int = 0,
    data_format: str = "auto",
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Cross-validate every configuration, decide its post-processing, rank, and write the outputs (module docstring).

    Args:
        dataset_dir: a data set of any registered format.
        bundles: architecture bundles (``catalog.bundle_names()``).
        spatial_dims: 2 and / or 3 (3 only for 3D data sets).
        num_folds: k of the cross-validation by case.
        work_dir: where everything is written (fold run folders inside).
        overrides: command-line overrides for every training and prediction (``["--epochs", "10",
            "--plan#features", "16"]``).
        seed: the split's (and the runs') seed.
        data_format: a registered format, or ``auto``.
        progress: called with one line per step.

    Returns:
        The content of ``winner.json`` plus ``"table"`` (Markdown) and ``"ranking"`` (the ranked
        :class:`ConfigurationResult`).

    Raises:
        ValueError: bad bundles / dims / overrides; RuntimeError: a training failed (names its log).
    """
    from data.loaders import open_dataset

    dataset_dir, work_dir = Path(dataset_dir).resolve(), Path(work_dir).resolve()
    parsed = parse_overrides(list(overrides))
    _check_overrides(parsed)
    spec = open_dataset(str(dataset_dir), data_format)
    configs = configurations(bundles, spatial_dims, spec.spatial_dims)
    if 3 in [int(d) for d in spatial_dims] and spec.spatial_dims == 2:
        progress(f"{dataset_dir.name}: a 2D data set; its 3D configurations are skipped")
    folds = fold_validation_cases(dataset_dir, num_folds, seed=seed, data_format=data_format)
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "folds.json").write_text(
        json.dumps([[c["case_id"] for c in cases] for cases in folds], indent=2) + "\n", encoding="utf-8"
    )
    fingerprint_dir = work_dir / "fingerprints"
    results = []
    total, step = len(configs) * num_folds, 0
    for config in configs:
        run_dirs, pred_dirs, seconds = [], [], []
        for fold in range(num_folds):
            step += 1
            run_dir = config.run_dir(work_dir, fold)
            command = _train_command(config, dataset_dir, fold, num_folds, seed, run_dir, fingerprint_dir, list(overrides))
            start = time.perf_counter()
            train_s = train_fold(command, run_dir)
            pred_dir = predict_fold(config, dataset_dir, run_dir, folds[fold], run_dir / "oof", parsed, fingerprint_dir)
            progress(
                f"[{step}/{total}] {config.name} fold {fold}/{num_folds}: "
                + (f"trained in {train_s:.0f} s" if train_s else "reused the finished run")
                + f", predicted {len(folds[fold])} validation case(s) ({time.perf_counter() - start:.0f} s) -> {run_dir}"
            )
            run_dirs.append(run_dir)
            pred_dirs.append(pred_dir)
            seconds.append(train_s)
        classes, regions = _plan_classes(run_dirs[0])
        result = score_configuration(config, run_dirs, folds, pred_dirs, classes,
                                     out_csv=work_dir / f"cases_{config.name}.csv", regions=regions)
        result.train_seconds = seconds
        progress(f"{config.name}: CV Dice {_fmt(*result.cv_dice)}, with post-processing {_fmt(*result.cv_dice_pp)} "
                 f"(keep largest: {result.decision.classes or 'none'})")
        results.append(result)
    ranked = rank(results)
    table = write_tables(ranked, work_dir)
    best = ranked[0]
    winner = {
        "configuration": best.configuration.name,
        "bundle": best.configuration.bundle,
        "spatial_dims": best.configuration.spatial_dims,
        "config_files": best.configuration.train_files(),
        "dataset_dir": str(dataset_dir),
        "num_folds": num_folds,
        "seed": seed,
        "overrides": parsed,
        "cv_dice": best.cv_dice_pp[0],
        "cv_dice_sd": best.cv_dice_pp[1],
        "cv_dice_without_postprocessing": best.cv_dice[0],
        "fold_dice": best.fold_dice_pp,
        "run_dirs": best.run_dirs,
        "best_fold": best_fold(best),
        "postprocessing": {
            "keep_largest": best.decision.classes,
            "dice_before": {str(k): v for k, v in best.decision.dice_before.items()},
            "dice_after": {str(k): v for k, v in best.decision.dice_after.items()},
        },
        "infer_command": ensemble_command(best, dataset_dir, parsed, work_dir / "ensemble_pred"),
        "export_command": export_command(best, work_dir / "export"),
    }
    (work_dir / "winner.json").write_text(json.dumps(winner, indent=2) + "\n", encoding="utf-8")
    return {**winner, "table": table, "ranking": ranked}
