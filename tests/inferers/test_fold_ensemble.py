"""The ensemble of folds is built from the folds' run folders (or checkpoint files): one copy of the network per fold
with that fold's weights, and its output is exactly the mean of the members' probabilities."""

from __future__ import annotations

import pytest
import torch

from inferers import EnsembleInferer
from inferers.fold_ensemble import checkpoint_file, fold_ensemble, load_members, member_run_dir


def tiny_net() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 3, 1))


@pytest.fixture
def folds(tmp_path):
    """Three fold run folders with different weights: run/models/model.pt (a plain state dict, as the best-model
    saver writes it), the third as {"model": state} in a checkpoint file of another name."""
    torch.manual_seed(0)
    nets, members = [], []
    for k in range(3):
        net = tiny_net()
        nets.append(net)
        if k < 2:
            run = tmp_path / f"fold_{k}"
            (run / "models").mkdir(parents=True)
            torch.save(net.state_dict(), run / "models" / "model.pt")
            members.append(str(run))
        else:
            path = tmp_path / "elsewhere" / "best.pt"
            path.parent.mkdir()
            torch.save({"model": net.state_dict()}, path)
            members.append(str(path))
    return nets, members


def test_members_carry_each_folds_weights_in_eval_mode(folds):
    nets, members = folds
    loaded = load_members(tiny_net(), members)
    assert len(loaded) == 3
    for net, member in zip(nets, loaded):
        assert not member.training
        for (name, a), (_, b) in zip(net.state_dict().items(), member.state_dict().items()):
            assert torch.equal(a, b), name
    assert loaded[0] is not loaded[1], "one copy per member"


def test_ensemble_output_is_exactly_the_mean_of_the_members_probabilities(folds):
    nets, members = folds
    x = torch.randn(2, 1, 5, 6)
    ensemble = fold_ensemble(tiny_net(), members, activation="softmax")
    assert isinstance(ensemble, EnsembleInferer)
    with torch.no_grad():
        probs = [torch.softmax(n.eval()(x), dim=1) for n in nets]
        mean = (probs[0] + probs[1] + probs[2]) / 3
        assert torch.equal(ensemble.probabilities(x), mean), "the same sum in the same order: bit for bit"
        out = ensemble(x, torch.nn.Identity())  # the engine's own network is ignored
    torch.testing.assert_close(torch.softmax(out, 1), mean, rtol=1e-5, atol=1e-6)
    assert torch.equal(out.argmax(1), mean.argmax(1))


def test_sigmoid_members(folds):
    nets, members = folds
    x = torch.randn(1, 1, 4, 4)
    with torch.no_grad():
        mean = sum(torch.sigmoid(n.eval()(x)) for n in nets) / 3
        out = fold_ensemble(tiny_net(), members, activation="sigmoid")(x)
    torch.testing.assert_close(torch.sigmoid(out), mean, rtol=1e-5, atol=1e-6)


def test_member_paths_and_errors(folds, tmp_path):
    _, members = folds
    assert checkpoint_file(members[0]).name == "model.pt"
    assert checkpoint_file(members[0] + "/models").name == "model.pt"
    assert member_run_dir(members) == members[0], "the run folder of the first member (its models/plan.json)"
    assert member_run_dir([members[2]]) == str(tmp_path / "elsewhere")
    with pytest.raises(FileNotFoundError, match="no model.pt"):
        checkpoint_file(tmp_path / "missing")
    with pytest.raises(ValueError, match="no ensemble members"):
        member_run_dir([])
    with pytest.raises(ValueError, match="does not fit the network"):
        load_members(torch.nn.Conv2d(1, 2, 1), members[:1])
