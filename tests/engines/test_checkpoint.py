from __future__ import annotations

import torch
from ignite.engine import Engine, Events

from engines import LatestCheckpointHandler, latest_checkpoint


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
