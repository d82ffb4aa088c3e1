"""bundles/common/configs/metrics.yaml as evaluator handlers: values by hand through a SupervisedEvaluator and
MetricsSaver's CSVs, and the wiring into the unet bundle's evaluation proposed in docs/losses_and_metrics.md."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser
from monai.data import DataLoader
from monai.engines import SupervisedEvaluator
from monai.handlers import MetricsSaver
from monai.inferers import SimpleInferer
from monai.transforms import Activationsd, AsDiscreted, Compose

from tests.masks import GT, HALF, INSIDE, logits

ROOT = Path(__file__).resolve().parents[2]
METRICS_YAML = ROOT / "bundles" / "common" / "configs" / "metrics.yaml"


def handlers(block: str) -> dict:
    parser = ConfigParser({"imports": ["$import monai"], "metrics": f"%{METRICS_YAML}#{block}"})
    return parser.get_parsed_content("metrics")


def read_metrics(path: Path) -> dict[str, float]:
    with open(path, newline="") as f:
        return {row[0]: float(row[1]) for row in csv.reader(f) if len(row) == 2}


def evaluate(cases: list[dict], postprocessing, metrics: dict, out: Path) -> dict[str, float]:
    """Run an evaluator whose network is the identity: the case's `image` is the network output."""
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=DataLoader(cases, batch_size=1),
        network=torch.nn.Identity(),
        inferer=SimpleInferer(),
        postprocessing=postprocessing,
        key_val_metric={"val_mean_dice": __import__("monai").handlers.MeanDice(
            include_background=True, output_transform=__import__("monai").handlers.from_engine(["pred", "label"]))},
        additional_metrics=metrics,
        val_handlers=[MetricsSaver(save_dir=str(out), metrics="*", metric_details="*", summary_ops="*", delimiter=",")],
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evaluator.run()
    return read_metrics(out / "metrics.csv")


def test_binary_block_by_hand(tmp_path):
    # case A: prediction HALF (TP 4, FP 4, FN 4, TN 4); case B: INSIDE (TP 4, FP 0, FN 4, TN 8)
    cases = [{"image": logits(HALF)[0], "label": GT[0]}, {"image": logits(INSIDE)[0], "label": GT[0]}]
    post = Compose([Activationsd(keys="pred", sigmoid=True), AsDiscreted(keys="pred", threshold=0.5)])
    values = evaluate(cases, post, handlers("binary"), tmp_path)
    expected = {
        "val_accuracy": (8 / 16 + 12 / 16) / 2,
        "val_pixel_error": (8 / 16 + 4 / 16) / 2,
        "val_precision": (4 / 8 + 4 / 4) / 2,
        "val_recall": (4 / 8 + 4 / 8) / 2,
        "val_specificity": (4 / 8 + 8 / 8) / 2,
        "val_hd95": (1.0 + 1.0) / 2,  # see test_monai_metrics.py
        "val_rand_error": (0.4 + 0.4) / 2,  # see test_rand_error.py
    }
    for name, value in expected.items():
        assert values[name] == pytest.approx(value), name
        rows = list(csv.reader(open(tmp_path / f"{name}_raw.csv")))
        assert rows[0] == ["filename", "class0", "mean"] and len(rows) == 3, f"{name}: one numeric row per case"
        assert all(float(v) == float(v) for row in rows[1:] for v in row[1:])  # numbers, not arrays
        assert (tmp_path / f"{name}_summary.csv").is_file()


def test_brats_block_by_hand(tmp_path):
    from tests.metrics.test_regions import PRED, TRUTH

    onehot_logits = 20.0 * (2 * torch.nn.functional.one_hot(PRED[0, 0].long(), 4).permute(2, 0, 1).float() - 1)
    cases = [{"image": onehot_logits, "label": TRUTH[0]}]
    post = AsDiscreted(keys="pred", argmax=True)  # softmax network output → (1, H, W) label map
    metrics = handlers("brats")
    values = evaluate(cases, post, metrics, tmp_path)
    assert values["val_brats_dice"] == pytest.approx((24 / 28 + 1.0 + 0.0) / 3)  # WT, TC, ET (test_regions.py)
    rows = list(csv.reader(open(tmp_path / "val_brats_dice_raw.csv")))
    assert rows[0] == ["filename", "class0", "class1", "class2", "mean"]
    assert [float(v) for v in rows[1][1:4]] == pytest.approx([24 / 28, 1.0, 0.0])


def test_wiring_into_the_unet_evaluation(tmp_path, synthetic_msd_dir, monkeypatch):
    """The lines proposed for evaluate_2d.yaml, applied here with parser updates, on the synthetic data set."""
    monkeypatch.chdir(ROOT)
    parser = ConfigParser()
    parser.read_config(["bundles/unet/configs/train.yaml", "bundles/unet/configs/evaluate.yaml"])
    parser.update({
        "dataset_dir": str(synthetic_msd_dir), "ckpt_dir": str(tmp_path / "models"), "output_dir": str(tmp_path / "eval"),
        "target_params": 0, "features": 4, "roi_size": [32, 32], "device": "$torch.device('cpu')",
    })  # fmt: skip
    # evaluate_2d.yaml's `evaluate` with the proposed lines
    evaluate = ConfigParser.load_config_file(ROOT / "bundles/common/configs/evaluate_2d.yaml")["evaluate"]
    evaluate["extra_metrics"] = "%bundles/common/configs/metrics.yaml#binary"
    evaluate["evaluator"]["additional_metrics"] = "$dict(@validate#additional_metrics, **@evaluate#extra_metrics)"
    parser["evaluate"] = evaluate
    (tmp_path / "models").mkdir()
    torch.save(parser.get_parsed_content("network").state_dict(), tmp_path / "models" / "model.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parser.get_parsed_content("evaluate#evaluator").run()
    values = read_metrics(tmp_path / "eval" / "metrics.csv")
    names = {"val_mean_iou", "val_mean_dice", "val_accuracy", "val_pixel_error", "val_precision", "val_recall",
             "val_specificity", "val_hd95", "val_rand_error"}  # fmt: skip
    assert names <= set(values)
    n_cases = len(parser.get_parsed_content("data#val_files"))
    for name in names:
        rows = list(csv.reader(open(tmp_path / "eval" / f"{name}_raw.csv")))
        assert len(rows) == 1 + n_cases, name
