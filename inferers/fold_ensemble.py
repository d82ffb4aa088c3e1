"""The members of an ensemble of folds: copies of a bundle's network, each with the best weights of one fold's run.

``bundles/common/configs/any_dataset_ensemble.yaml`` builds an :class:`~inferers.EnsembleInferer` from them (the mean
of the folds' probabilities). A member is named by its training run folder (``runs/<bundle>/<name>``: its
``models/model.pt``) or by a checkpoint file.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import torch

from inferers.ensemble import EnsembleInferer

__all__ = ["checkpoint_file", "fold_ensemble", "load_members", "member_run_dir"]

_MODEL_FILE = "model.pt"


def checkpoint_file(member: str | Path) -> Path:
    """The best-weights file of a member: ``<run folder>/models/model.pt``, ``<folder>/model.pt`` (a checkpoint
    folder), or the file itself.

    Raises:
        FileNotFoundError: none of these exists; the message names the member and what was looked for.
    """
    path = Path(member)
    for candidate in (path / "models" / _MODEL_FILE, path / _MODEL_FILE, path):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{path}: no {_MODEL_FILE} (looked for {path / 'models' / _MODEL_FILE}, {path / _MODEL_FILE} and the file "
        "itself); give the fold's training run folder (runs/<bundle>/<name>) or its checkpoint file"
    )


def member_run_dir(members: Sequence[str | Path]) -> str:
    """The run folder of the first member (its ``models/`` holds the ``plan.json`` the ensemble infers with).

    Raises:
        ValueError: ``members`` is empty (the message says how to give them).
    """
    if not members:
        raise ValueError("no ensemble members: give the folds' run folders, e.g. --ensemble \"['runs/unet/f0', 'runs/unet/f1']\"")
    weights = checkpoint_file(members[0])
    return str(weights.parent.parent if weights.parent.name == "models" else weights.parent)


def _state_dict(path: Path) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):  # {"model": state} (several saved objects)
        state = state["model"]
    return state


def load_members(network: torch.nn.Module, members: Sequence[str | Path], device: str | torch.device = "cpu") -> list[torch.nn.Module]:
    """One copy of ``network`` per member with that member's weights, in eval mode on ``device``.

    Args:
        network: the bundle's network (built from the same plan and overrides as the folds' training runs).
        members: run folders or checkpoint files (:func:`checkpoint_file`).
        device: where the members run.

    Raises:
        FileNotFoundError: a member has no weights (named).
        ValueError: ``members`` is empty, or a member's weights do not fit the network (names the file and the
            overrides to pass: the members must share the architecture and width).
    """
    if not members:
        raise ValueError("no ensemble members: give the folds' run folders, e.g. --ensemble \"['runs/unet/f0', 'runs/unet/f1']\"")
    nets = []
    for member in members:
        path = checkpoint_file(member)
        net = copy.deepcopy(network)
        try:
            net.load_state_dict(_state_dict(path), strict=True)
        except RuntimeError as e:
            raise ValueError(
                f"{path}: does not fit the network of this config (pass the overrides the folds were trained with, "
                f"e.g. --plan#features, --spatial_dims, the variant file): {str(e).splitlines()[0]}"
            ) from e
        nets.append(net.to(device).eval())
    return nets


def fold_ensemble(
    network: torch.nn.Module,
    members: Sequence[str | Path],
    inferer=None,
    activation: str = "softmax",
    device: str | torch.device = "cpu",
) -> EnsembleInferer:
    """An :class:`~inferers.EnsembleInferer` of the members (:func:`load_members`), each run through ``inferer``
    (sliding windows, slices, mirroring TTA ...); its output is the log of the mean probability.

    Shape:
        ``inputs`` (B, C, *spatial) -> (B, K, *spatial).
    """
    return EnsembleInferer(load_members(network, members, device), inferer=inferer, activation=activation)
