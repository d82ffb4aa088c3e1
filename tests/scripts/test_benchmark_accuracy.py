"""scripts/benchmark_accuracy.py and experiments/accuracy.py: the scoring against held-out labels, the held-out split
of a twin, the nuclei swap layout, and the --quick mode end to end (ours and BasicUNet, no nnU-Net)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from experiments import accuracy  # noqa: E402


def _dataset(tmp_path: Path) -> accuracy.Dataset:
    labels = tmp_path / "labelsTs"
    labels.mkdir()
    label = np.zeros((8, 8), np.uint8)
    label[:4, :4] = 1  # 16 pixels of class 1
    label[4:, 4:] = 2  # 16 pixels of class 2
    Image.fromarray(label).save(labels / "case_000.png")
    return accuracy.Dataset(name="x", root=tmp_path, labels_ts=labels, ending=".png", classes=[1, 2], spatial_dims=2)


def test_score_predictions_known_overlap(tmp_path):
    data = _dataset(tmp_path)
    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    pred = np.zeros((8, 8), np.uint8)
    pred[:4, :2] = 1  # 8 of the 16 pixels of class 1, no false positive
    pred[4:, 4:] = 2  # class 2 exact
    Image.fromarray(pred).save(pred_dir / "case_000.png")
    scores = accuracy.score_predictions(pred_dir, data)
    assert scores["dice_1"] == pytest.approx(2 * 8 / (8 + 16))
    assert scores["iou_1"] == pytest.approx(8 / 16)
    assert scores["dice_2"] == pytest.approx(1.0) and scores["iou_2"] == pytest.approx(1.0)
    assert scores["dice"] == pytest.approx((2 * 8 / 24 + 1.0) / 2)
    assert scores["cases"] == 1


def test_score_predictions_missing_case_names_it(tmp_path):
    data = _dataset(tmp_path)
    (tmp_path / "pred").mkdir()
    with pytest.raises(FileNotFoundError, match="case_000"):
        accuracy.score_predictions(tmp_path / "pred", data)


def test_prepare_twin_holds_out_labelled_cases(tmp_path):
    data = accuracy.prepare_twin(tmp_path, "mri", num_training=3, num_test=2, seed=0, spatial_size=(16, 16, 4))
    root = Path(data["root"])
    train = sorted(p.name for p in (root / "labelsTr").iterdir())
    test_images = sorted(p.name for p in (root / "imagesTs").iterdir())
    held_out = sorted(p.name for p in Path(data["labels_ts"]).iterdir())
    assert len(train) == 3 and len(held_out) == 2 and len(test_images) == 2
    assert not set(train) & set(held_out), "a test case is also a training case"
    assert [n.replace("_0000", "") for n in test_images] == held_out, "every test image has its held-out label"
    assert json.loads((root / "dataset.json").read_text())["numTraining"] == 3
    assert not (Path(data["labels_ts"]).parent == root), "the held-out labels are outside the data set folder"
    assert data["classes"] == [1, 2, 3] and data["dataset_id"] == 901


def test_prepare_nuclei_swap(tmp_path):
    src = tmp_path / "src"
    for k in (0, 1):
        for sub, value in (("images", 100 + k), ("masks", 255)):
            (src / sub).mkdir(parents=True, exist_ok=True)
            array = np.zeros((8, 8), np.uint8)
            array[2:5, 2:5] = value
            Image.fromarray(array).save(src / sub / f"tile_{k}.png")
    data = accuracy.prepare_nuclei(src, tmp_path / "raw", train_tile=1, test_tile=0, dataset_id=912)
    root = Path(data["root"])
    assert root.name == "Dataset912_Nuclei10"
    label = np.asarray(Image.open(root / "labelsTr" / "nuclei_001.png"))
    assert set(np.unique(label).tolist()) == {0, 1}, "masks 0/255 become labels 0/1"
    assert np.asarray(Image.open(root / "imagesTr" / "nuclei_001_0000.png")).max() == 101
    assert (root / "imagesTs" / "nuclei_000_0000.png").is_file()
    assert (Path(data["labels_ts"]) / "nuclei_000.png").is_file()


@pytest.mark.slow
def test_quick_mode_runs_ours_and_basic_unet(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    sys.path.insert(0, str(ROOT / "scripts"))
    import benchmark_accuracy

    assert benchmark_accuracy.main(["--quick", "--work_dir", str(tmp_path), "--seeds", "0"]) == 0
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert sorted(r["contender"] for r in rows) == ["MONAI BasicUNet script", "ours (unet)"]
    for r in rows:
        assert 0.0 <= r["dice"] <= 1.0 and 0.0 <= r["iou"] <= r["dice"] + 1e-9
        assert r["iterations"] >= 1 and r["cases"] == 2 and r["budget"] == 3.0
    ours = next(r for r in rows if r["contender"] == "ours (unet)")
    assert "--time_limit 3.0" in ours["command"]
    out = capsys.readouterr().out
    assert "| mri | ours (unet) |" in out and "nnU-Net" not in out.split("Commands")[0]
    # a rerun resumes: nothing runs again
    assert benchmark_accuracy.main(["--quick", "--work_dir", str(tmp_path), "--seeds", "0"]) == 0
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 2


def test_each_ours_extra_trains_in_folders_of_its_own(tmp_path, monkeypatch):
    """Two runs with different --ours_extra in one work folder must not share run folders (the second would find
    the first one's results and refuse to write over them)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import benchmark_accuracy

    folders = []

    def fake_run_ours(data, run_dir, budget, seed, **kwargs):
        folders.append((run_dir, tuple(kwargs["extra"])))
        return {"pred_dir": str(run_dir), "iterations": 1, "train_seconds": budget, "command": "x"}

    monkeypatch.setattr(accuracy, "run_ours", fake_run_ours)
    monkeypatch.setattr(accuracy, "score_predictions", lambda pred_dir, data: {"dice": 0.5, "iou": 0.3, "cases": 2})
    for extra in ("--learning_rate 1e-3", "--learning_rate 3e-3", ""):
        assert benchmark_accuracy.main(["--quick", "--work_dir", str(tmp_path), "--seeds", "0", "--no_basic_unet",
                                        "--ours_extra", extra]) == 0
    assert [e for _, e in folders] == [("--learning_rate", "1e-3"), ("--learning_rate", "3e-3"), ()]
    assert len({d for d, _ in folders}) == 3
    assert folders[2][0].name == "mri_ours_unet_0"  # no extra: the folder name of before


def test_ours_with_fixed_epochs_has_no_time_limit(tmp_path, monkeypatch):
    """`run_ours(epochs=N)` trains exactly N epochs (no wall-time budget); the default trains for the budget; the
    iterations reported are the trainer's own count in the last checkpoint (a time limit ends the last epoch early)."""
    import torch

    commands = []

    def fake_run(cmd, log_file, env=None, cwd=None):
        commands.append(cmd)
        log_file.write_text("")
        if "--time_limit" in cmd:  # training: leave the checkpoint of its last epoch
            models = Path(cmd[cmd.index("--ckpt_dir") + 1])
            models.mkdir(parents=True, exist_ok=True)
            per_epoch = int(cmd[cmd.index("--iterations_per_epoch") + 1])
            if cmd[cmd.index("--time_limit") + 1] == "0":
                last = int(cmd[cmd.index("--epochs") + 1])
                done = last * per_epoch
            else:  # the budget ran out 7 iterations into the third epoch
                last, done = 3, 2 * per_epoch + 7
            trainer = {"epoch_length": per_epoch, "iteration": done, "max_epochs": 100000}
            torch.save({"model": {}, "trainer": trainer}, models / f"checkpoint_epoch={last}.pt")
        return 1.0

    monkeypatch.setattr(accuracy, "run_logged", fake_run)
    data = {"root": str(tmp_path), "spatial_dims": 2}
    fixed = accuracy.run_ours(data, tmp_path / "fixed", budget=60.0, seed=0, epochs=7, iterations_per_epoch=5)
    train = commands[0]
    assert train[train.index("--time_limit") + 1] == "0" and train[train.index("--epochs") + 1] == "7"
    assert fixed["epochs"] == 7 and fixed["iterations"] == 35
    budget = accuracy.run_ours(data, tmp_path / "budget", budget=60.0, seed=0)
    train = commands[2]
    assert train[train.index("--time_limit") + 1] == "60.0" and train[train.index("--epochs") + 1] == "100000"
    assert train[train.index("--iterations_per_epoch") + 1] == "50"  # the bundle's default epoch
    assert budget["epochs"] == 3 and budget["iterations"] == 2 * 50 + 7


def test_trained_seconds_reads_the_time_limit_handlers_line(caplog):
    """The pattern follows the handler's own message (a change of its wording fails here, not in a benchmark)."""
    import logging

    from ignite.engine import Engine

    from engines.timing import TimeLimitHandler
    from experiments.accuracy import trained_seconds

    engine = Engine(lambda e, b: None)
    TimeLimitHandler(limit_seconds=1e-9).attach(engine)
    with caplog.at_level(logging.INFO):
        engine.run(range(3), max_epochs=5)
    assert engine.state.epoch == 1
    assert trained_seconds(caplog.text, default=18.0) == 0.0
    assert trained_seconds("no limit reached", default=18.0) == 18.0
