from __future__ import annotations

import pytest
import torch
from ignite.engine import Engine, Events

from engines import LatestCheckpointHandler, ResumeError, WeightAverage, latest_checkpoint


def _trainer(net, opt, max_epochs):
    def step(engine, batch):
        opt.zero_grad()
        loss = net(torch.ones(2, 3)).sum()
        loss.backward()
        opt.step()
        return loss.item()

    return Engine(step)


def test_latest_checkpoint_picks_highest_epoch(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    for n in (2, 10, 9):
        (tmp_path / f"checkpoint_epoch={n}.pt").write_bytes(b"")
    (tmp_path / "model.pt").write_bytes(b"")
    assert latest_checkpoint(tmp_path).name == "checkpoint_epoch=10.pt"


def test_save_then_resume_continues_from_saved_epoch(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    trainer = _trainer(net, opt, 2)
    LatestCheckpointHandler(ckpt_dir=str(tmp_path), save_dict={"model": net, "optimizer": opt}).attach(trainer)
    trainer.run([0, 1], max_epochs=2)
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["checkpoint_epoch=2.pt"]
    saved = {k: v.clone() for k, v in net.state_dict().items()}

    net2 = torch.nn.Linear(3, 1)
    opt2 = torch.optim.SGD(net2.parameters(), lr=0.1)
    trainer2 = _trainer(net2, opt2, 3)
    epochs = []
    trainer2.add_event_handler(Events.EPOCH_STARTED, lambda e: epochs.append(e.state.epoch))
    LatestCheckpointHandler(ckpt_dir=str(tmp_path), save_dict={"model": net2, "optimizer": opt2}, resume=True).attach(trainer2)
    trainer2.add_event_handler(Events.STARTED, lambda e: [torch.testing.assert_close(net2.state_dict()[k], saved[k]) for k in saved])
    trainer2.run([0, 1], max_epochs=3)
    assert epochs == [3]  # epochs 1-2 restored, only the 3rd is run
    assert latest_checkpoint(tmp_path).name == "checkpoint_epoch=3.pt"


def test_resume_without_checkpoint_starts_anew(tmp_path):
    net = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    trainer = _trainer(net, opt, 1)
    LatestCheckpointHandler(ckpt_dir=str(tmp_path), save_dict={"model": net}, resume=True).attach(trainer)
    state = trainer.run([0], max_epochs=1)
    assert state.epoch == 1


def test_older_checkpoints_of_earlier_runs_are_removed(tmp_path):
    """A new run into a folder with another run's checkpoint_epoch=8.pt keeps only its own latest state, so a later
    resume cannot pick the stale file; model.pt and other files are left alone."""
    (tmp_path / "checkpoint_epoch=8.pt").write_bytes(b"stale")
    (tmp_path / "model.pt").write_bytes(b"best")
    net = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    trainer = _trainer(net, opt, 2)
    LatestCheckpointHandler(ckpt_dir=str(tmp_path), save_dict={"model": net}).attach(trainer)
    trainer.run([0], max_epochs=2)
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["checkpoint_epoch=2.pt", "model.pt"]


def test_resume_flag_from_the_command_line(tmp_path):
    """`--resume false` reaches the handler as the string "false" (Fire converts only True/False)."""
    net = torch.nn.Linear(3, 1)
    for value, expected in [("false", False), ("False", False), ("true", True), ("1", True), (True, True), (0, False)]:
        assert LatestCheckpointHandler(str(tmp_path), {"model": net}, resume=value).resume is expected
    with pytest.raises(ValueError, match="resume must be true or false"):
        LatestCheckpointHandler(str(tmp_path), {"model": net}, resume="maybe")


def _run_with_validation(tmp_path, scores, max_epochs, resume):
    """Train a linear net; after each epoch a 'validation' engine reports the next score from ``scores``, and a
    best-by-score CheckpointSaver writes model.pt. Returns the network."""
    from monai.handlers import CheckpointSaver

    torch.manual_seed(len(scores))
    net = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    trainer = _trainer(net, opt, max_epochs)
    evaluator = Engine(lambda engine, batch: None)

    @evaluator.on(Events.EPOCH_COMPLETED)
    def _score(engine):
        engine.state.metrics = {"iou": scores[trainer.state.epoch - 1]}

    best = CheckpointSaver(str(tmp_path), {"model": net}, save_key_metric=True, key_metric_name="iou",
                           key_metric_filename="model.pt")  # fmt: skip
    best.attach(evaluator)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: evaluator.run([0]))
    LatestCheckpointHandler(str(tmp_path), {"model": net, "optimizer": opt}, resume=resume, best_saver=best).attach(
        trainer
    )
    trainer.run([0], max_epochs=max_epochs)
    return net


def test_resume_keeps_the_best_model_of_the_earlier_run(tmp_path):
    """Epoch 2 scored best (0.9); after resuming, epoch 3 scores 0.5 and must not replace model.pt."""
    _run_with_validation(tmp_path, [0.3, 0.9, 0.5], max_epochs=2, resume=False)
    best_before = torch.load(tmp_path / "model.pt", weights_only=True)
    net = _run_with_validation(tmp_path, [0.3, 0.9, 0.5], max_epochs=3, resume=True)
    for key, value in torch.load(tmp_path / "model.pt", weights_only=True).items():
        torch.testing.assert_close(value, best_before[key])
    assert not torch.equal(net.weight, best_before["weight"])  # the network did train on, model.pt stayed
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["checkpoint_epoch=3.pt", "model.pt"]


def test_best_saver_must_track_a_key_metric(tmp_path):
    from monai.handlers import CheckpointSaver

    interval_only = CheckpointSaver(str(tmp_path), {"model": torch.nn.Linear(1, 1)}, save_interval=1)
    with pytest.raises(ValueError, match="save_key_metric=True"):
        LatestCheckpointHandler(str(tmp_path), {}, best_saver=interval_only)


def _failing_save(obj, f, **kwargs):
    """torch.save that dies half-way through writing (a full disk, a kill during the write)."""
    f.write(b"PK\x03\x04 half a checkpoint")
    raise OSError("simulated failure while writing")


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    """The epoch-2 save fails half-way: checkpoint_epoch=1.pt is still there, complete, and nothing half-written
    carries a checkpoint's name (Ignite's Checkpoint would delete the old file before writing the new one)."""
    net = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    trainer = _trainer(net, opt, 1)
    LatestCheckpointHandler(ckpt_dir=str(tmp_path), save_dict={"model": net, "optimizer": opt}).attach(trainer)
    trainer.run([0], max_epochs=1)
    good = (tmp_path / "checkpoint_epoch=1.pt").read_bytes()

    trainer2 = _trainer(net, opt, 2)
    LatestCheckpointHandler(str(tmp_path), {"model": net, "optimizer": opt}, resume=True).attach(trainer2)
    monkeypatch.setattr(torch, "save", _failing_save)
    with pytest.raises(OSError, match="simulated failure"):
        trainer2.run([0], max_epochs=2)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_epoch=1.pt"]
    assert (tmp_path / "checkpoint_epoch=1.pt").read_bytes() == good
    assert torch.load(tmp_path / "checkpoint_epoch=1.pt", weights_only=True)["trainer"]["iteration"] == 1


def test_best_model_is_replaced_atomically(tmp_path, monkeypatch):
    """model.pt (fixed name, best by a metric) survives a failed write of a better model, and is replaced when
    the write succeeds."""
    from engines import AtomicCheckpointSaver

    net = torch.nn.Linear(3, 1)
    scores = iter([0.3, 0.6, 0.9])
    saver = AtomicCheckpointSaver(str(tmp_path), {"model": net}, save_key_metric=True, key_metric_name="iou",
                                  key_metric_filename="model.pt")  # fmt: skip

    def evaluate():
        evaluator = Engine(lambda engine, batch: None)
        score = lambda e: setattr(e.state, "metrics", {"iou": next(scores)})  # noqa: E731
        evaluator.add_event_handler(Events.EPOCH_COMPLETED, score)
        saver.attach(evaluator)
        evaluator.run([0])

    evaluate()  # score 0.3: saved
    first = {k: v.clone() for k, v in net.state_dict().items()}
    torch.nn.init.constant_(net.weight, 7.0)
    monkeypatch.setattr(torch, "save", _failing_save)
    with pytest.raises(OSError, match="simulated failure"):
        evaluate()  # score 0.6: the write fails
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]
    for key, value in torch.load(tmp_path / "model.pt", weights_only=True).items():
        torch.testing.assert_close(value, first[key])
    evaluate()  # score 0.9: saved
    torch.testing.assert_close(torch.load(tmp_path / "model.pt", weights_only=True)["weight"], net.weight.detach())


def test_lr_scheduler_state_is_saved_and_resumed(tmp_path):
    """A step schedule (lr x 0.1 every epoch) continues where it stopped: after 2 + 1 epochs the lr is 1e-3."""
    from monai.handlers import LrScheduleHandler

    def run(max_epochs, resume):
        net = torch.nn.Linear(3, 1)
        opt = torch.optim.SGD(net.parameters(), lr=1.0)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)
        trainer = _trainer(net, opt, max_epochs)
        LrScheduleHandler(sched, print_lr=False).attach(trainer)  # before the saver: the saved state is stepped
        LatestCheckpointHandler(str(tmp_path), {"model": net, "optimizer": opt, "lr_scheduler": sched},
                                resume=resume).attach(trainer)  # fmt: skip
        trainer.run([0], max_epochs=max_epochs)
        return opt, sched

    run(2, resume=False)
    state = torch.load(tmp_path / "checkpoint_epoch=2.pt", weights_only=True)
    assert state["lr_scheduler"]["last_epoch"] == 2 and state["trainer"]["iteration"] == 2  # 1 iteration/epoch
    opt, sched = run(3, resume=True)
    assert sched.last_epoch == 3
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-3)


def _checkpoint_without_a_weight_average(tmp_path):
    """One epoch saved by a run whose save_dict had no weight average (as before the average existed)."""
    net = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    trainer = _trainer(net, opt, 1)
    LatestCheckpointHandler(ckpt_dir=str(tmp_path), save_dict={"model": net, "optimizer": opt}).attach(trainer)
    trainer.run([0, 1], max_epochs=1)
    return {k: v.clone() for k, v in net.state_dict().items()}


def test_resume_with_an_average_from_a_checkpoint_without_one_names_the_file_and_loads_nothing(tmp_path):
    _checkpoint_without_a_weight_average(tmp_path)
    net = torch.nn.Linear(3, 1)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    average = WeightAverage(net, momentum=0.01)
    save_dict = {"model": average.model, "weight_average": average, "optimizer": opt}
    handler = LatestCheckpointHandler(ckpt_dir=str(tmp_path), save_dict=save_dict, resume=True)
    with pytest.raises(ResumeError) as err:
        handler.attach(_trainer(net, opt, 2))
    message = str(err.value)
    assert "checkpoint_epoch=1.pt" in message and "'weight_average'" in message and "--ema_momentum 0" in message
    assert all(torch.equal(net.state_dict()[k], before[k]) for k in before)  # nothing was loaded
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["checkpoint_epoch=1.pt"]  # nothing written or lost


def test_resume_with_the_average_off_reads_a_checkpoint_without_one(tmp_path):
    saved = _checkpoint_without_a_weight_average(tmp_path)
    net = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    average = WeightAverage(net, momentum=0)
    trainer = _trainer(net, opt, 2)
    save_dict = {"model": average.model, "weight_average": average, "optimizer": opt}
    LatestCheckpointHandler(ckpt_dir=str(tmp_path), save_dict=save_dict, resume=True).attach(trainer)
    loaded = {}
    trainer.add_event_handler(Events.STARTED, lambda e: loaded.update({k: v.clone() for k, v in net.state_dict().items()}))
    trainer.run([0, 1], max_epochs=2)
    assert all(torch.equal(loaded[k], saved[k]) for k in saved) and trainer.state.epoch == 2
