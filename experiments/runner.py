"""Run a comparison matrix: every run trains and evaluates through the stock ``python -m monai.bundle run``.

Why subprocesses and not ``ConfigParser`` in-process: each run is then exactly the command a user types (the
bundle's own engines, handlers, checkpointing and resume), a crashed or killed run cannot leave state (threads,
CUDA memory, global seeds, imported modules) behind for the next, and its log is a file next to its results.
The start-up cost (a few seconds per run) is small beside training. In-process code is used only for what
needs no training: counting parameters and drawing pictures.

Layout of an experiment folder::

    <exp>/experiment.json                train / validation / held-out test cases, time limit (fixed for all runs)
    <exp>/runs/<name>/spec.json          bundle, loss, seed, overrides, key
    <exp>/runs/<name>/train.yaml         generated override file for training (top-level keys + data split)
    <exp>/runs/<name>/evaluate.yaml      the same for evaluation on the held-out test cases
    <exp>/runs/<name>/train/             TensorBoard logs and validation pictures of training
    <exp>/runs/<name>/models/            model.pt (best by validation IoU), checkpoint_epoch=N.pt (latest)
    <exp>/runs/<name>/test_eval/         metrics.csv, per-case CSVs of the test cases
    <exp>/runs/<name>/result.json        the run's numbers: written last, marks the run as finished
    <exp>/results.csv, results.md        the table (mean and sd over seeds), runs.csv (one row per run)
    <exp>/<metric>.png                   bar chart of the main metric per row
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import yaml
from tqdm.auto import tqdm

from experiments.matrix import BUNDLE_LOSS, LOSSES_FILE, MatrixError, RunSpec, config_files
from experiments.tensorboard import read_scalars
import catalog

__all__ = ["ComparisonRunner", "data_override", "make_split"]

TRAIN_DONE = "train.done"
RESULT = "result.json"


def make_split(
    dataset_dir: str | os.PathLike,
    test_fraction: float = 0.2,
    val_fraction: float = 0.2,
    seed: int = 0,
    data_format: str = "msd",
) -> dict[str, Any]:
    """Held-out test, validation and training cases of a data set of any registered format (``data_format``, or
    ``"auto"``), by case (by patient where the format groups cases) and deterministic.

    The test cases are split off first (``data.splits.split_by_group`` with ``test_fraction``), the rest is split
    into training and validation (``val_fraction``), both with ``seed``. Every run of a comparison uses these
    lists, whatever its own ``seed``.

    Returns:
        ``{"dataset_dir", "test_fraction", "val_fraction", "split_seed", "train", "val", "test"}``; the last
        three are lists of datalist items (``image``, ``label``, ``case_id``).
    """
    from data.splits import split_by_group
    from formats import FORMATS

    datalist = FORMATS.open(dataset_dir, data_format).training
    group = "patient_id" if all("patient_id" in d for d in datalist) else "case_id"
    trainval, test = split_by_group(datalist, (1 - test_fraction, test_fraction), group_key=group, seed=seed)
    train, val = split_by_group(trainval, (1 - val_fraction, val_fraction), group_key=group, seed=seed)
    if not test or not val:
        raise MatrixError(
            f"{Path(dataset_dir) / 'dataset.json'}: {len(datalist)} cases give {len(train)} train / {len(val)} "
            f"validation / {len(test)} test; a comparison needs at least one of each (more cases or larger fractions)."
        )
    return {
        "dataset_dir": str(Path(dataset_dir).absolute()), "test_fraction": test_fraction, "val_fraction": val_fraction,
        "split_seed": seed, "train": train, "val": val, "test": test,
    }


def data_override(files: Sequence[str], root: str | os.PathLike = ".", **lists: list) -> dict[str, Any]:
    """Nested overrides (``{"data#train_files": [...], ...}``) that replace the given file lists of the bundle's
    ``data`` block and keep the rest of it.

    Raises:
        MatrixError: the bundle's data block has no such key (it is not a block with train/val file lists).
    """
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config([str(Path(root) / f) for f in files])
    block = parser.get("data")
    if not isinstance(block, dict):
        raise MatrixError(f"{files}: 'data' is not a mapping (a data block with train/val file lists).")
    missing = sorted(set(lists) - set(block))
    if missing:
        raise MatrixError(f"{files}: the 'data' block has no {missing}.")
    return {f"data#{key}": [dict(item) for item in items] for key, items in lists.items()}


class ComparisonRunner:
    """Train and evaluate every run of a matrix with the same budget, split and test cases; write the table.

    Args:
        exp_dir: experiment folder (created); results of earlier calls there are reused.
        dataset_dir: MSD Task01-format data set (``dataset.json``).
        runs: the matrix (:func:`experiments.matrix.expand_matrix`).
        test_fraction: share of cases held out for the test table.
        split_seed: seed of the split (fixed for all runs; a run's own ``seed`` does not move it).
        baseline: row label (``RunSpec.group``) or bundle of the time reference; default the first run's row.
        metric: main metric of the bar chart (a column of the results, e.g. ``test_dice``, ``test_iou``).
        time_limit: wall-time budget of each training in seconds (0: none), the bundles' ``time_limit`` key: the
            epoch in which it runs out ends after that iteration and is validated; a run also gets at most ``epochs``.
        pictures: after each run, draw its curves, cases, gallery and saliency (``experiments.pictures``).
        threads: intra-op threads of the bundle processes (``OMP_NUM_THREADS``); 0 leaves the default.
        root: repository root (the bundles resolve their shared YAML relative to it).
        python: interpreter of the bundle processes.
    """

    def __init__(
        self,
        exp_dir: str | os.PathLike,
        dataset_dir: str | os.PathLike,
        runs: Sequence[RunSpec],
        test_fraction: float = 0.2,
        split_seed: int = 0,
        baseline: str | None = None,
        metric: str = "test_dice",
        time_limit: float = 0.0,
        pictures: bool = True,
        threads: int = 0,
        root: str | os.PathLike = ".",
        python: str = sys.executable,
    ) -> None:
        self.exp_dir = Path(exp_dir).absolute()
        self.dataset_dir = Path(dataset_dir).absolute()
        self.runs = list(runs)
        self.test_fraction = test_fraction
        self.split_seed = split_seed
        self.baseline = baseline
        self.metric = metric
        self.time_limit = float(time_limit)
        self.pictures = pictures
        self.threads = threads
        self.root = Path(root).absolute()
        self.python = python
        self.trained: list[str] = []  # names of runs trained (or resumed) by this call
        self.evaluated: list[str] = []

    # ---- split ----------------------------------------------------------------------------------------------
    def split(self) -> dict[str, Any]:
        """The experiment's split (and time limit), made on the first call and checked against ``experiment.json``
        afterwards."""
        val_fractions = {float(r.overrides.get("val_fraction", 0.2)) for r in self.runs}
        if len(val_fractions) != 1:
            raise MatrixError(f"runs disagree on val_fraction {sorted(val_fractions)}; the split must be shared.")
        formats = {catalog.bundle(r.bundle, self.root).data_format for r in self.runs}
        if len(formats) != 1:
            raise MatrixError(f"runs are bundles of different data formats {sorted(map(str, formats))}; compare "
                              "bundles of one data format (or the generic path's override files).")
        split = make_split(self.dataset_dir, self.test_fraction, val_fractions.pop(), self.split_seed,
                           data_format=formats.pop() or "auto")
        split["time_limit"] = self.time_limit
        path = self.exp_dir / "experiment.json"
        if path.is_file():
            old = json.loads(path.read_text())
            if old != json.loads(json.dumps(split)):
                raise MatrixError(
                    f"{path}: this experiment folder was made with another split or budget (data set, fractions, "
                    "split seed or time limit); use a new folder for them."
                )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(split, indent=1))
        return split

    # ---- one run --------------------------------------------------------------------------------------------
    def run_dir(self, run: RunSpec) -> Path:
        return self.exp_dir / "runs" / run.name

    def _override_file(self, run: RunSpec, config: str, split: dict[str, Any], resume: bool = False) -> Path:
        out = self.run_dir(run)
        files = config_files(run.bundle, config, self.root)
        if config == "train":
            data = data_override(files, self.root, train_files=split["train"], val_files=split["val"])
            keys = {"output_dir": str(out / "train"), "ckpt_dir": str(out / "models"), "resume": resume}
            if self.time_limit > 0:
                keys["time_limit"] = self.time_limit  # every bundle's top-level wall-time budget
        else:
            data = data_override(files, self.root, val_files=split["test"])
            keys = {"output_dir": str(out / "test_eval"), "ckpt_dir": str(out / "models")}
        content = {**dict(run.overrides), "dataset_dir": str(self.dataset_dir), "seed": run.seed, **keys, **data}
        if run.loss != BUNDLE_LOSS:
            content["loss"] = f"%{LOSSES_FILE}#{run.loss}"
        path = out / f"{config}.yaml"
        path.write_text(
            "# generated by experiments.runner: overrides (nested keys) of "
            f"{files} for run {run.name}\n" + yaml.safe_dump(content, sort_keys=False)
        )
        return path

    def _bundle(self, run: RunSpec, config: str, override: Path, log: Path) -> None:
        files = [*config_files(run.bundle, config, self.root), str(override)]
        cmd = [self.python, "-m", "monai.bundle", "run", "--config_file", str(files)]
        env = dict(os.environ)
        if self.threads > 0:
            env.update(OMP_NUM_THREADS=str(self.threads), MKL_NUM_THREADS=str(self.threads))
        with open(log, "w") as f:
            f.write(" ".join(cmd) + "\n")
            f.flush()
            proc = subprocess.run(cmd, cwd=self.root, stdout=f, stderr=subprocess.STDOUT, env=env)
        if proc.returncode != 0:
            tail = "".join(log.read_text().splitlines(keepends=True)[-25:])
            raise RuntimeError(f"run {run.name}: {config} failed (exit {proc.returncode}); log: {log}\n{tail}")

    def count_parameters(self, run: RunSpec) -> int:
        """Trainable parameters of the run's network, built from its configs on the ``meta`` device."""
        from monai.bundle import ConfigParser

        from networks import count_parameters

        parser = ConfigParser()
        parser.read_config([str(self.root / f) for f in config_files(run.bundle, "train", self.root)])
        parser.update({k: v for k, v in run.overrides.items()})
        with torch.device("meta"):
            net = parser.get_parsed_content("network_def")
        return count_parameters(net)

    def execute(self, run: RunSpec, split: dict[str, Any], status: Callable[[str], None] = lambda s: None) -> dict:
        """Train (or resume), evaluate on the test cases and collect the numbers of one run; reuse what is done."""
        out = self.run_dir(run)
        result_path = out / RESULT
        if result_path.is_file():
            return json.loads(result_path.read_text())
        out.mkdir(parents=True, exist_ok=True)
        (out / "spec.json").write_text(
            json.dumps({**run.to_dict(), "dataset_dir": str(self.dataset_dir)}, indent=1, default=str)
        )
        done = out / TRAIN_DONE
        if not done.is_file():
            resume = any((out / "models").glob("checkpoint_epoch=*.pt"))
            status(f"{run.name}: {'resume ' if resume else ''}train")
            start = time.perf_counter()
            self._bundle(run, "train", self._override_file(run, "train", split, resume), out / "train.log")
            done.write_text(f"{time.perf_counter() - start:.1f}\n")
            self.trained.append(run.name)
        metrics_csv = out / "test_eval" / "metrics.csv"
        if not (metrics_csv.is_file() and metrics_csv.stat().st_mtime >= done.stat().st_mtime):
            status(f"{run.name}: evaluate")
            self._bundle(run, "evaluate", self._override_file(run, "evaluate", split), out / "evaluate.log")
            self.evaluated.append(run.name)
        result = self.collect(run, split)
        if self.pictures:
            status(f"{run.name}: pictures")
            from experiments.pictures import run_pictures

            result["pictures"] = [str(p.relative_to(self.exp_dir)) for p in run_pictures(out)]
        result_path.write_text(json.dumps(result, indent=1))
        return result

    def collect(self, run: RunSpec, split: dict[str, Any]) -> dict[str, Any]:
        """The run's numbers from its TensorBoard logs (training) and ``metrics.csv`` (test cases)."""
        out = self.run_dir(run)
        scalars = read_scalars(out / "train")
        iou = scalars.get("val_mean_iou", [])
        if not iou:
            raise RuntimeError(f"{out / 'train'}: no val_mean_iou in the TensorBoard logs; did validation run?")
        best_epoch, best_iou = max(iou, key=lambda sv: sv[1])
        dice_at = dict(scalars.get("val_mean_dice", []))
        epoch_times = [v for _, v in scalars.get("train_epoch_time", [])]
        test = {}
        for line in (out / "test_eval" / "metrics.csv").read_text().splitlines():
            name, _, value = line.partition(",")
            try:
                test[name] = float(value)
            except ValueError:
                continue
        losses = scalars.get("train_epoch_loss", [])
        return {
            **run.to_dict(),
            "parameters": self.count_parameters(run),
            "epochs": len(epoch_times),
            "best_epoch": best_epoch,
            "best_val_iou": best_iou,
            "best_val_dice": dice_at.get(best_epoch, float("nan")),
            "test_iou": test.get("val_mean_iou", float("nan")),
            "test_dice": test.get("val_mean_dice", float("nan")),
            "test_accuracy": test.get("val_accuracy", float("nan")),
            "final_train_loss": losses[-1][1] if losses else float("nan"),
            "train_time_per_epoch": sum(epoch_times) / len(epoch_times) if epoch_times else float("nan"),
            "inference_time_per_case": test.get("inference_time_per_case", float("nan")),
            "train_cases": len(split["train"]), "val_cases": len(split["val"]), "test_cases": len(split["test"]),
        }

    # ---- the matrix -----------------------------------------------------------------------------------------
    def run(self) -> list[dict[str, Any]]:
        """Run (or reuse) every run in order, with a progress bar over the matrix; write the tables and the chart
        after each run, so an interrupted matrix leaves a table of what finished."""
        from experiments.results import write_results

        split = self.split()
        results = []
        bar = tqdm(self.runs, desc="comparison", unit="run", dynamic_ncols=True)
        for run in bar:
            bar.set_postfix_str(run.name)
            results.append(self.execute(run, split, status=bar.set_postfix_str))
            write_results(results, self.exp_dir, baseline=self.baseline, metric=self.metric)
        bar.close()
        return results
