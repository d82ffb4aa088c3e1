"""Accuracy benchmark at equal wall-clock training budget (issue 18): data sets written in the nnU-Net v2 raw
layout with held-out labelled test cases, three contenders and one scoring for all of them.

- data: the real nuclei tiles (train on one 256 x 256 tile, test on the other) and the synthetic nnU-Net twins
  (``formats/nnunet_v2/synthetic.py``; train on ``imagesTr``, test on held-out cases whose labels are kept
  outside the data set folder);
- contenders: ours (the generic path ``bundles/common/configs/any_dataset.yaml``, the default recipe, with a
  ``--time_limit``), MONAI ``BasicUNet`` trained by the plain script :func:`train_basic_unet` (a time loop), and
  nnU-Net v2 from its own environment (:func:`run_nnunet`; never imported here, only run as commands);
- scoring: every contender writes label maps of the test images; :func:`score_predictions` reads them with the
  format's reader and computes Dice and IoU per foreground class against the held-out labels, the same code for
  all.

``scripts/benchmark_accuracy.py`` is the command line.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import catalog

__all__ = [
    "ROOT",
    "run_logged",
    "Dataset",
    "prepare_nuclei",
    "prepare_twin",
    "score_predictions",
    "run_ours",
    "train_basic_unet",
    "run_nnunet",
    "nnunet_available",
]

ROOT = Path(__file__).resolve().parents[1]
TRAIN = "bundles/unet/configs/train.yaml"
ANY, INFERENCE = catalog.generic_file("train"), catalog.generic_file("inference")


class Dataset(dict):
    """A prepared data set: ``name``, ``root`` (nnU-Net raw folder), ``dataset_id``, ``labels_ts`` (folder of the
    held-out labels, ``<case><ending>``), ``ending``, ``classes`` (foreground label values), ``spatial_dims``."""


def _write_dataset_json(root: Path, channels: list[str], labels: dict, num_training: int, ending: str) -> None:
    meta = {
        "name": root.name.split("_", 1)[1],
        "channel_names": {str(i): c for i, c in enumerate(channels)},
        "labels": labels,
        "numTraining": num_training,
        "file_ending": ending,
    }
    (root / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def prepare_nuclei(source: str | os.PathLike, raw_dir: str | os.PathLike, train_tile: int, test_tile: int,
                   dataset_id: int) -> Dataset:
    """Write one swap of the nuclei tiles as an nnU-Net v2 raw data set (PNG, one ``zscore`` channel, label 0/1).

    Args:
        source: folder with ``images/tile_K.png`` (grey) and ``masks/tile_K.png`` (0 / 255); read only.
        raw_dir: the ``nnUNet_raw`` folder to write ``Dataset<id>_Nuclei<train><test>`` into.
        train_tile: tile number K of the training case.
        test_tile: tile number of the test case (its mask goes to ``<raw_dir>/labelsTs_<name>``).
        dataset_id: the nnU-Net data set number (3 digits).

    Returns:
        The prepared :class:`Dataset`.

    Raises:
        FileNotFoundError: a tile is missing; the message names it.
    """
    from PIL import Image

    source = Path(source)
    name = f"Dataset{dataset_id:03d}_Nuclei{train_tile}{test_tile}"
    root = Path(raw_dir) / name
    labels_ts = Path(raw_dir) / f"labelsTs_{name}"
    for sub in (root / "imagesTr", root / "labelsTr", root / "imagesTs", labels_ts):
        sub.mkdir(parents=True, exist_ok=True)
    for tile, image_dir, label_dir in ((train_tile, root / "imagesTr", root / "labelsTr"),
                                       (test_tile, root / "imagesTs", labels_ts)):
        image_file, mask_file = source / "images" / f"tile_{tile}.png", source / "masks" / f"tile_{tile}.png"
        for f in (image_file, mask_file):
            if not f.is_file():
                raise FileNotFoundError(f"{f}: missing nuclei tile; pass --nuclei_dir with images/ and masks/.")
        case = f"nuclei_{tile:03d}"
        image = np.asarray(Image.open(image_file).convert("L"))
        mask = (np.asarray(Image.open(mask_file).convert("L")) > 127).astype(np.uint8)
        Image.fromarray(image).save(image_dir / f"{case}_0000.png")
        Image.fromarray(mask).save(label_dir / f"{case}.png")
    _write_dataset_json(root, ["zscore"], {"background": 0, "nucleus": 1}, 1, ".png")
    return Dataset(name=name, root=root, dataset_id=dataset_id, labels_ts=labels_ts, ending=".png", classes=[1],
                   spatial_dims=2)


def prepare_twin(raw_dir: str | os.PathLike, kind: str, num_training: int, num_test: int, seed: int = 0,
                 spatial_size: tuple[int, ...] | None = None) -> Dataset:
    """Write a synthetic nnU-Net twin with ``num_test`` labelled held-out cases in ``imagesTs``.

    The twin is generated with ``num_training + num_test`` labelled cases; the last ``num_test`` move to
    ``imagesTs`` and their labels to ``<raw_dir>/labelsTs_<name>`` (outside the data set folder).

    Returns:
        The prepared :class:`Dataset` (``dataset_id`` from the twin's folder name, e.g. 901).
    """
    from formats.nnunet_v2.synthetic import SYNTHETIC_KINDS, generate_nnunet_v2

    root = generate_nnunet_v2(raw_dir, kind=kind, num_training=num_training + num_test, num_test=0,
                              spatial_size=spatial_size, seed=seed)
    _, channels, labels, _, _, ending = SYNTHETIC_KINDS[kind]
    labels_ts = Path(raw_dir) / f"labelsTs_{root.name}"
    labels_ts.mkdir(parents=True, exist_ok=True)
    cases = sorted(p.name[: -len(ending)] for p in (root / "labelsTr").glob(f"*{ending}"))
    for case in cases[num_training:]:
        for image in (root / "imagesTr").glob(f"{case}_*{ending}"):
            image.rename(root / "imagesTs" / image.name)
        (root / "labelsTr" / f"{case}{ending}").rename(labels_ts / f"{case}{ending}")
    _write_dataset_json(root, channels, labels, num_training, ending)
    classes = sorted({int(v) for v in labels.values() if not isinstance(v, list)} - {0})
    return Dataset(name=root.name, root=root, dataset_id=int(root.name[7:10]), labels_ts=labels_ts, ending=ending,
                   classes=classes, spatial_dims=len(SYNTHETIC_KINDS[kind][3]))


def score_predictions(pred_dir: str | os.PathLike, dataset: Dataset) -> dict[str, float]:
    """Dice and IoU of the label maps in ``pred_dir`` (``<case>.<ext>``, any ending the format reads) against the
    held-out labels, per foreground class, averaged over the test cases, then over the classes.

    A class absent from both prediction and label of a case is left out of that case's mean (no score).

    Returns:
        ``{"dice": mean Dice, "iou": mean IoU, "dice_<c>": ..., "iou_<c>": ..., "cases": n}``.

    Raises:
        FileNotFoundError: a test case has no prediction (names the case and the folder).
        ValueError: a prediction's shape differs from its label's.
    """
    from formats.nnunet_v2.readers import read_channel_file

    pred_dir, ending = Path(pred_dir), dataset["ending"]
    per_class: dict[int, dict[str, list[float]]] = {c: {"dice": [], "iou": []} for c in dataset["classes"]}
    labels = sorted(Path(dataset["labels_ts"]).glob(f"*{ending}"))
    for label_file in labels:
        case = label_file.name[: -len(ending)]
        found = [p for p in pred_dir.glob(f"{case}.*") if p.is_file()]
        if not found:
            raise FileNotFoundError(f"{pred_dir}: no prediction for test case {case}; the contender's run failed.")
        pred = np.rint(read_channel_file(found[0])[0]).astype(np.int64)
        label = np.rint(read_channel_file(label_file)[0]).astype(np.int64)
        if pred.shape != label.shape:
            raise ValueError(f"{found[0]}: shape {pred.shape} differs from the label's {label.shape} ({label_file}).")
        for c in dataset["classes"]:
            p, g = pred == c, label == c
            inter, total, union = np.sum(p & g), np.sum(p) + np.sum(g), np.sum(p | g)
            if union == 0:
                continue
            per_class[c]["dice"].append(2.0 * inter / total)
            per_class[c]["iou"].append(inter / union)
    out: dict[str, float] = {"cases": float(len(labels))}
    for metric in ("dice", "iou"):
        means = []
        for c, scores in per_class.items():
            value = float(np.mean(scores[metric])) if scores[metric] else float("nan")
            out[f"{metric}_{c}"] = value
            means.append(value)
        out[metric] = float(np.nanmean(means))
    return out


def run_logged(cmd: list[str], log_file: Path, env: dict | None = None, cwd: Path = ROOT) -> float:
    """Run ``cmd``, its output into ``log_file``; the wall time in seconds.

    Raises:
        RuntimeError: non-zero exit; the message names the log file and shows its end.
    """
    start = time.perf_counter()
    with log_file.open("w") as log:
        log.write(" ".join(cmd) + "\n")
        log.flush()
        proc = subprocess.run(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = log_file.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(cmd[:6])} ... failed (exit {proc.returncode}); log {log_file}:\n{tail}")
    return elapsed


def _config(*files: str) -> str:
    return "[" + ",".join(f"'{f}'" for f in files) + "]"


def trained_seconds(log: str, default: float) -> float:
    """Seconds of training when the time limit stopped it, from the log of engines.TimeLimitHandler
    (``time limit 13 s reached in epoch 63 (iteration 627, 13 s): stop``); ``default`` when the limit did not stop it."""
    match = re.findall(r"time limit .* reached (?:after|in) epoch \d+ \((?:iteration \d+, )?(\d+) s\)", log)
    return float(match[-1]) if match else default


def run_ours(dataset: Dataset, run_dir: str | os.PathLike, budget: float, seed: int, features: int = 16,
             iterations_per_epoch: int = 50, variant: str | None = None, extra: list[str] | None = None,
             fingerprint_dir: str | os.PathLike | None = None, epochs: int = 0) -> dict[str, Any]:
    """Train the generic path with the default recipe for ``budget`` seconds (``--time_limit``) on all training
    cases (no validation split: nnU-Net's fold ``all``), then predict the test images with the last checkpoint.

    Args:
        dataset: a prepared :class:`Dataset`.
        run_dir: folder of the run (models/, train/, pred/, logs); created.
        budget: the wall-time budget in seconds.
        seed: the bundle's ``--seed``.
        features: ``--plan#features``, the base width.
        iterations_per_epoch: batches per epoch (the bundle's default 50); each epoch ends with a checkpoint, and the
            time limit ends training after the iteration in which it runs out.
        variant: an optional variant override file (e.g. ``bundles/attention_unet/configs/variant.yaml``).
        extra: further command-line overrides of training and inference (e.g. ``["--learning_rate", "3e-3"]``).
        fingerprint_dir: cached fingerprints.
        epochs: 0: train for ``budget`` seconds; N: exactly N epochs, no time limit (equal work, e.g. to compare
            precisions at equal epochs).

    Returns:
        ``{"train_seconds", "iterations", "epochs", "command", "pred_dir"}``.

    Raises:
        RuntimeError: a command failed (names its log).
    """
    import torch

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    files = [TRAIN] + ([variant] if variant else []) + [ANY]
    common = ["--dataset_dir", str(dataset["root"]), "--ckpt_dir", str(run_dir / "models"), "--device", "cpu",
              "--num_workers", "0", "--seed", str(seed), "--plan#features", str(features), "--val_fraction", "0",
              "--fingerprint_dir", str(fingerprint_dir or run_dir.parent / "fingerprints")]
    train = [sys.executable, "-m", "monai.bundle", "run", "--config_file", _config(*files), *common,
             "--time_limit", f"{budget:.1f}" if epochs <= 0 else "0", "--epochs", str(epochs if epochs > 0 else 100000),
             "--iterations_per_epoch",
             str(iterations_per_epoch), "--val_interval", "100000000", "--output_dir", str(run_dir / "train"),
             *(extra or [])]
    log = run_dir / "train.log"
    wall = run_logged(train, log)
    ckpts = sorted(run_dir.glob("models/checkpoint_epoch=*.pt"), key=lambda p: int(re.findall(r"\d+", p.name)[-1]))
    if not ckpts:
        raise RuntimeError(f"{run_dir / 'models'}: training wrote no checkpoint; see {log}.")
    epochs = int(re.findall(r"\d+", ckpts[-1].name)[-1])
    # the trainer's own count (the time limit ends the last epoch after the iteration in which it runs out)
    iterations = int(torch.load(ckpts[-1], map_location="cpu", weights_only=True)["trainer"]["iteration"])
    text = log.read_text(errors="replace")
    train_seconds = trained_seconds(text, default=wall)
    ending = ["--prediction_ending", "input"] if dataset["spatial_dims"] == 2 else []
    infer = [sys.executable, "-m", "monai.bundle", "run", "--config_file", _config(*files, INFERENCE), *common,
             "--output_dir", str(run_dir / "pred"), "--infer#handlers#0#load_path", str(ckpts[-1]), *ending,
             *(extra or [])]  # the same overrides: those that shape the network must agree with the checkpoint
    run_logged(infer, run_dir / "infer.log")
    return {"train_seconds": train_seconds, "process_seconds": wall, "epochs": epochs,
            "iterations": iterations, "command": "python " + shlex.join(train[1:]),
            "pred_dir": str(run_dir / "pred")}


def train_basic_unet(dataset: Dataset, run_dir: str | os.PathLike, budget: float, seed: int, crop: int = 128,
                     batch_size: int = 4, features: int = 16) -> dict[str, Any]:
    """The peer a MONAI user writes: ``BasicUNet`` (2D, on slices along the last axis of 3D cases), per-case
    z-score, random crops of ``crop`` (at most the image), random flips, DiceCE loss, Adam 1e-3, trained in a
    time loop of ``budget`` seconds, then sliding-window inference on the test images.

    Returns:
        ``{"train_seconds", "iterations", "command", "pred_dir"}``; predictions as NIfTI, or PNG for 2D data.
    """
    import nibabel as nib
    import torch
    from monai.inferers import sliding_window_inference
    from monai.losses import DiceCELoss
    from monai.networks.nets import BasicUNet
    from PIL import Image

    from formats.nnunet_v2.readers import read_channel_file

    root, ending = Path(dataset["root"]), dataset["ending"]
    channels = len(json.loads((root / "dataset.json").read_text())["channel_names"])
    num_classes = len(dataset["classes"]) + 1

    def load(image_dir: Path, case: str) -> tuple[np.ndarray, np.ndarray]:
        arrays = [read_channel_file(image_dir / f"{case}_{c:04d}{ending}") for c in range(channels)]
        image = np.stack([a for a, _ in arrays]).astype(np.float32)  # (C, *spatial)
        image = (image - image.mean(axis=tuple(range(1, image.ndim)), keepdims=True)) / (
            image.std(axis=tuple(range(1, image.ndim)), keepdims=True) + 1e-8)
        return image, arrays[0][1]

    def slices(volume: np.ndarray) -> list[np.ndarray]:  # (C, H, W[, D]) -> 2D slices (C, H, W)
        return [volume] if volume.ndim == 3 else [volume[..., k] for k in range(volume.shape[-1])]

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    pairs = []
    for label_file in sorted((root / "labelsTr").glob(f"*{ending}")):
        case = label_file.name[: -len(ending)]
        image, _ = load(root / "imagesTr", case)
        label = read_channel_file(label_file)[0][None].astype(np.int64)
        pairs += list(zip(slices(image), slices(label)))
    net = BasicUNet(spatial_dims=2, in_channels=channels, out_channels=num_classes,
                    features=(features, features, 2 * features, 4 * features, 8 * features, features))
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    h, w = pairs[0][0].shape[1:]
    ch, cw = min(crop, h) // 16 * 16, min(crop, w) // 16 * 16
    iterations, start = 0, time.perf_counter()
    net.train()
    while time.perf_counter() - start < budget:
        xs, ys = [], []
        for _ in range(batch_size):
            x, y = pairs[rng.integers(len(pairs))]
            i, j = rng.integers(x.shape[1] - ch + 1), rng.integers(x.shape[2] - cw + 1)
            x, y = x[:, i:i + ch, j:j + cw], y[:, i:i + ch, j:j + cw]
            for axis in (1, 2):
                if rng.random() < 0.5:
                    x, y = np.flip(x, axis), np.flip(y, axis)
            xs.append(np.ascontiguousarray(x))
            ys.append(np.ascontiguousarray(y))
        loss = loss_fn(net(torch.from_numpy(np.stack(xs))), torch.from_numpy(np.stack(ys)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        iterations += 1
    train_seconds = time.perf_counter() - start
    net.eval()
    pred_dir = Path(run_dir) / "pred"
    pred_dir.mkdir(parents=True, exist_ok=True)
    for image_file in sorted((root / "imagesTs").glob(f"*_0000{ending}")):
        case = image_file.name[: -len("_0000" + ending)]
        image, affine = load(root / "imagesTs", case)
        out = []
        with torch.no_grad():
            for x in slices(image):
                logits = sliding_window_inference(torch.from_numpy(x[None]), (ch, cw), 8, net, overlap=0.5)
                out.append(logits.argmax(1)[0].numpy().astype(np.uint8))
        if image.ndim == 3:
            Image.fromarray(out[0]).save(pred_dir / f"{case}.png")
        else:
            nib.save(nib.Nifti1Image(np.stack(out, axis=-1), affine), str(pred_dir / f"{case}.nii.gz"))
    command = (f"experiments.accuracy.train_basic_unet(BasicUNet features {features}, crops {ch}x{cw}, batch "
               f"{batch_size}, DiceCE, Adam 1e-3, flips, {budget:.0f} s, seed {seed})")
    return {"train_seconds": train_seconds, "iterations": iterations, "command": command, "pred_dir": str(pred_dir)}


def nnunet_available(env_dir: str | os.PathLike) -> bool:
    """Whether ``env_dir`` holds nnU-Net v2's commands (``bin/nnUNetv2_train``)."""
    return (Path(env_dir) / "bin" / "nnUNetv2_train").is_file()


def run_nnunet(dataset: Dataset, work_dir: str | os.PathLike, env_dir: str | os.PathLike, run_name: str,
               trainer: str = "nnUNetTrainer_1epoch", configuration: str = "2d") -> dict[str, Any]:
    """Plan, preprocess, train (fold ``all``, ``-device cpu``) and predict with nnU-Net v2 from its own
    environment; nothing of nnU-Net is imported here.

    Args:
        dataset: a prepared :class:`Dataset` whose ``root`` lies in ``<work_dir>/nnUNet_raw``.
        work_dir: holds ``nnUNet_raw``, ``nnUNet_preprocessed`` and ``nnUNet_results``.
        env_dir: nnU-Net's virtual environment (``../shared/tools/nnunet_peer_env.sh``).
        run_name: folder under ``<work_dir>/runs`` for logs and predictions.
        trainer: nnU-Net's trainer class (its shortest shipped variants: ``nnUNetTrainer_1epoch``, ``_5epochs``).
        configuration: nnU-Net's configuration.

    Returns:
        ``{"train_seconds"`` (sum of nnU-Net's logged epoch times, the budget of the others),
        ``"process_seconds"`` (the whole training command: start-up, data loading, final validation),
        ``"iterations"``, ``"epochs"``, ``"command"``, ``"pred_dir"}``.
    """
    work_dir, env_bin = Path(work_dir), Path(env_dir) / "bin"
    run_dir = work_dir / "runs" / run_name
    run_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, nnUNet_raw=str(work_dir / "nnUNet_raw"),
               nnUNet_preprocessed=str(work_dir / "nnUNet_preprocessed"),
               nnUNet_results=str(work_dir / "nnUNet_results"), nnUNet_n_proc_DA="1",
               PATH=f"{env_bin}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("PYTHONPATH", None)
    did = str(dataset["dataset_id"])
    results = work_dir / "nnUNet_results" / dataset["name"]
    if results.exists():  # a previous seed's model: nnU-Net trains again from scratch
        shutil.rmtree(results)
    if not (work_dir / "nnUNet_preprocessed" / dataset["name"]).is_dir():
        plan = [str(env_bin / "nnUNetv2_plan_and_preprocess"), "-d", did, "-c", configuration, "-np", "1", "-npfp", "1"]
        run_logged(plan, run_dir / "plan.log", env=env)
    train = [str(env_bin / "nnUNetv2_train"), did, configuration, "all", "-tr", trainer, "-device", "cpu"]
    wall = run_logged(train, run_dir / "train.log", env=env)
    fold_dir = next(results.glob(f"{trainer}__*/fold_all"))
    logs = sorted(fold_dir.glob("training_log_*.txt"))
    text = "\n".join(p.read_text(errors="replace") for p in logs)
    epoch_times = [float(t) for t in re.findall(r"Epoch time: ([0-9.]+) s", text)]
    iters = 250
    plans = json.loads(next(results.glob(f"{trainer}__*")).joinpath("plans.json").read_text())
    iters = int(plans.get("configurations", {}).get(configuration, {}).get("num_iterations_per_epoch", iters))
    pred_dir = run_dir / "pred"
    run_logged([str(env_bin / "nnUNetv2_predict"), "-i", str(dataset["root"] / "imagesTs"), "-o", str(pred_dir), "-d", did,
          "-c", configuration, "-f", "all", "-tr", trainer, "-device", "cpu", "-npp", "1", "-nps", "1"],
         run_dir / "predict.log", env=env)
    return {"train_seconds": sum(epoch_times) if epoch_times else wall, "process_seconds": wall,
            "epochs": len(epoch_times), "iterations": len(epoch_times) * iters,
            "command": " ".join(["nnUNetv2_train", *train[1:]]), "pred_dir": str(pred_dir)}
