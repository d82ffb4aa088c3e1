"""One description of a bundle: its workflows and the config files each runs, the bundle it overrides, and the data
format of its seed.

A bundle is either a *base* bundle, with its own ``configs/train.yaml`` (and ``evaluate.yaml``, ``inference.yaml``,
``multi_gpu_train.yaml``, each an override file of ``train.yaml``, the model zoo's way), or an *override* bundle: one
or more override files in its ``configs/`` (``variant.yaml``, ``fcn8s.yaml``) that name the bundle they override
with the top-level key ``base_bundle``. A workflow's config list, as a user passes it to ``--config_file``:

- ``train``: ``[<base>/train.yaml, *<overrides>]``
- ``evaluate`` / ``inference`` / ``multi_gpu_train``: ``[<base>/train.yaml, *<overrides>, <base>/<workflow>.yaml]``

Nothing here is a hand-kept list: bundles, bases and formats are read from the tree (a new bundle is a folder).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = [
    "GENERIC", "ROOT", "WORKFLOWS", "BundleError", "BundleSpec", "bundle", "bundle_names", "config_files", "generic_file",
]

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ("train", "evaluate", "inference", "multi_gpu_train")
# the generic path (any registered data set, planned from its fingerprint, the default recipe): override files put
# after a bundle's own, one for training and one per further workflow (relative to the repository root)
GENERIC = "bundles/common/configs/any_dataset.yaml"
# files of a bundle's configs/ folder that are not override files
_NOT_OVERRIDES = {"train.yaml", "evaluate.yaml", "inference.yaml", "multi_gpu_train.yaml", "slice_store.yaml"}


class BundleError(ValueError):
    """A bundle that does not exist or is not well formed; the message names the folder or file."""


@dataclass(frozen=True)
class BundleSpec:
    """A bundle of the repository.

    Args:
        name: folder name under ``bundles/``.
        base: the base bundle whose workflow files run (``name`` itself for a base bundle).
        overrides: the bundle's override files (paths relative to the repository root), applied after ``train.yaml``.
        workflows: the workflows the base bundle has files for (``train`` always).
        data_format: the registered format of the seed's data set (``data#integrity_check#data_format`` of
            ``train.yaml``), ``None`` when the train config does not declare one.
    """

    name: str
    base: str
    overrides: tuple[str, ...]
    workflows: tuple[str, ...]
    data_format: str | None

    @property
    def is_override(self) -> bool:
        return self.base != self.name

    def config_files(self, workflow: str = "train") -> list[str]:
        """The config list of ``workflow`` (paths relative to the repository root).

        Raises:
            BundleError: the base bundle has no file for ``workflow`` (the message lists those it has).
        """
        if workflow not in self.workflows:
            raise BundleError(
                f"bundles/{self.base}/configs/{workflow}.yaml: no workflow {workflow!r} in bundle {self.name!r}; "
                f"it has {', '.join(self.workflows)}"
            )
        train = f"bundles/{self.base}/configs/train.yaml"
        own = [] if workflow == "train" else [f"bundles/{self.base}/configs/{workflow}.yaml"]
        return [train, *self.overrides, *own]


def bundle_names(root: str | os.PathLike = ROOT) -> list[str]:
    """Names of the bundles under ``<root>/bundles`` (folders with a ``configs`` folder and a ``metadata.json``)."""
    return sorted(p.parent.parent.name for p in Path(root).glob("bundles/*/configs/metadata.json"))


def bundle(name: str, root: str | os.PathLike = ROOT) -> BundleSpec:
    """The description of bundle ``name``, read from ``<root>/bundles/<name>/configs``.

    Raises:
        BundleError: no such bundle (the message lists the bundles), an override file without ``base_bundle``, or a
            base that is itself an override bundle.
    """
    root = Path(root)
    configs = root / "bundles" / name / "configs"
    if not (configs / "metadata.json").is_file():
        raise BundleError(f"{configs}: no bundle {name!r}; the bundles are {', '.join(bundle_names(root))}")
    if (configs / "train.yaml").is_file():
        workflows = tuple(w for w in WORKFLOWS if (configs / f"{w}.yaml").is_file())
        return BundleSpec(name, name, (), workflows, _data_format(configs / "train.yaml"))
    overrides = sorted(p for p in configs.glob("*.yaml") if p.name not in _NOT_OVERRIDES)
    if not overrides:
        raise BundleError(f"{configs}: neither a train.yaml nor override files (*.yaml naming a base_bundle)")
    bases = set()
    for path in overrides:
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(content, dict) or not content.get("base_bundle"):
            raise BundleError(f"{path}: an override file must name the bundle it overrides (base_bundle: <name>)")
        bases.add(str(content["base_bundle"]))
    if len(bases) != 1:
        raise BundleError(f"{configs}: override files name different base bundles {sorted(bases)}")
    base = bundle(bases.pop(), root)
    if base.is_override:
        raise BundleError(f"{configs}: base bundle {base.name!r} is itself an override of {base.base!r}")
    files = tuple(str(p.relative_to(root)) for p in overrides)
    return BundleSpec(name, base.name, files, base.workflows, base.data_format)


def config_files(name: str, workflow: str = "train", root: str | os.PathLike = ROOT) -> list[str]:
    """``bundle(name).config_files(workflow)``: the ``--config_file`` list of a workflow of a bundle."""
    return bundle(name, root).config_files(workflow)


def _data_format(train_yaml: Path) -> str | None:
    content = yaml.safe_load(train_yaml.read_text(encoding="utf-8")) or {}
    data = content.get("data")
    check = data.get("integrity_check") if isinstance(data, dict) else None
    fmt = check.get("data_format") if isinstance(check, dict) else None
    return fmt if isinstance(fmt, str) else None


def generic_file(workflow: str = "train") -> str:
    """The generic path's override file of ``workflow`` (``train``: ``any_dataset.yaml``; ``evaluate``,
    ``inference``, ``ensemble``: ``any_dataset_<workflow>.yaml``), relative to the repository root.

    Raises:
        BundleError: there is no such file (the message lists the generic path's workflows).
    """
    path = GENERIC if workflow == "train" else GENERIC.replace(".yaml", f"_{workflow}.yaml")
    if not (ROOT / path).is_file():
        known = sorted(p.stem.removeprefix("any_dataset_") for p in (ROOT / GENERIC).parent.glob("any_dataset_*.yaml"))
        raise BundleError(
            f"{ROOT / path}: the generic path has no {workflow!r} workflow; it has train, {', '.join(known)}"
        )
    return path
