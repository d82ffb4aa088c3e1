"""Package a bundle as a self-contained archive to share (layout and checks: sharing/package.py).

Usage (from anywhere; `--set` takes the overrides that were used for training, values parsed as YAML)::

    python scripts/package_bundle.py bundles/unet --out dist
    python scripts/package_bundle.py bundles/nas_unet --out dist --weights bundles/nas_unet/models/model.pt
    python scripts/package_bundle.py bundles/liver_fcn8s --out dist --weights runs/liver_fcn8s/default/models/model.pt
    python scripts/package_bundle.py bundles/unet --out dist --set target_params=0 --set features=16
    python scripts/package_bundle.py --run_dir runs/unet/act-prelu --out dist    # a run folder: nothing else needed
    python scripts/package_bundle.py --run_dir runs/unet/fold-0_num_folds-5 --out dist   # a generic-path run too
    python scripts/package_bundle.py --run_dir R0 --ensemble R0 R1 R2 R3 R4 --keep_largest 1 --out dist  # its folds' ensemble

Prints the archive path; exit status 1 with the file named when something is missing or the weights do not fit.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sharing.package import package_bundle  # noqa: E402
from engines.errors import install_excepthook  # noqa: E402

install_excepthook()  # our errors end in their message; the full traceback goes to a file (engines/errors.py)


def parse_set(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set {item!r}: expected key=value")
        out[key] = yaml.safe_load(value)
    return out


ANY = "bundles/common/configs/any_dataset.yaml"


def from_run_dir(run_dir: Path) -> tuple[str, Path, dict, dict]:
    """(bundle folder, best weights, training overrides, more ``package_bundle`` arguments) of a training run folder
    (engines/run_folder.py): a run of the bundle's own configs, or of the generic path (the bundle's configs, then
    ``any_dataset.yaml``: packaged with the generic path's evaluation / inference files and the run's ``plan.json``;
    the weights are checked against the run's data set).

    Raises:
        FileNotFoundError: no run.json, or no best weights, named.
        ValueError: the run trained on other configs than its bundle's or the generic path's: named.
    """
    import catalog
    from engines.run_folder import NOT_IN_NAME, RUN_FILE

    record_file = run_dir / RUN_FILE
    if not record_file.is_file():
        raise FileNotFoundError(f"{record_file}: not found; --run_dir takes a training run folder (runs/<bundle>/<name>)")
    record = json.loads(record_file.read_text(encoding="utf-8"))
    bundle = run_dir.resolve().parent.name
    expected = catalog.config_files(bundle, "train")
    trained = [str(Path(f)) for f in record.get("config_files", [])]
    overrides = record.get("overrides") or {}
    ckpt_dir = Path(overrides.get("ckpt_dir") or run_dir / "models")
    extra: dict = {}
    if trained == [str(Path(f)) for f in [*expected, ANY]]:  # the generic path (docs/any_dataset.md)
        files = [*expected, ANY]
        extra = {
            "config_lists": {"train": files, "evaluate": [*files, ANY.replace(".yaml", "_evaluate.yaml")],
                             "inference": [*files, ANY.replace(".yaml", "_inference.yaml")]},
            "model_files": (ckpt_dir / "plan.json",),
            "check_overrides": {"dataset_dir": overrides.get("dataset_dir"), "ckpt_dir": str(ckpt_dir),
                                "fingerprint_dir": overrides.get("fingerprint_dir")},
        }  # fmt: skip
    elif trained != [str(Path(f)) for f in expected]:
        raise ValueError(f"{record_file}: trained with {record.get('config_files')}, not bundle {bundle}'s {expected} "
                         f"(nor with {ANY} after them); package a run of a repository bundle")
    weights = ckpt_dir / "model.pt"
    return f"bundles/{bundle}", weights, {k: v for k, v in overrides.items() if k not in NOT_IN_NAME}, extra


def add_ensemble(run_dir: Path, extra: dict, members: list[Path]) -> tuple[dict, list[str]]:
    """``package_bundle`` arguments for an ensemble of folds: the inference list gets ``any_dataset_ensemble.yaml``,
    the members' weights ship as ``models/fold_<i>.pt``; returns them and the packaged ``ensemble`` entries.

    Raises:
        ValueError: ``run_dir`` is not a generic-path run, or a member was trained with other configs (named).
    """
    from engines.run_folder import RUN_FILE
    from inferers.fold_ensemble import checkpoint_file

    if not extra:
        raise ValueError(f"{run_dir}: --ensemble packages folds of the generic path ({ANY}); this run is not one")
    wanted = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8")).get("config_files")
    for member in members:
        record = member / RUN_FILE
        if record.is_file() and json.loads(record.read_text(encoding="utf-8")).get("config_files") != wanted:
            raise ValueError(f"{record}: trained with other configs than {run_dir} ({wanted}); an ensemble needs one "
                             "configuration's folds")
    extra = dict(extra)
    extra["config_lists"] = {**extra["config_lists"],
                             "inference": [*extra["config_lists"]["inference"], ANY.replace(".yaml", "_ensemble.yaml")]}
    extra["fold_weights"] = tuple(checkpoint_file(m) for m in members)
    return extra, [f"$@bundle_root + '/models/fold_{i}.pt'" for i in range(len(members))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", nargs="?", help="bundle folder, e.g. bundles/unet (or give --run_dir)")
    parser.add_argument("--run_dir", help="a training run folder (runs/<bundle>/<name>): its bundle, weights, overrides")
    parser.add_argument("--out", default="dist", help="folder for the archive (default: %(default)s)")
    parser.add_argument("--weights", help="best weights (default: <bundle>/models/model.pt; with --run_dir its models/model.pt)")
    parser.add_argument("--base", help="bundle an override bundle overrides (default for variant.yaml: bundles/unet)")
    parser.add_argument("--name", help="archive folder name (default: the bundle folder's name)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="top-level config override")
    parser.add_argument("--ensemble", nargs="+", metavar="RUN_DIR",
                        help="with a generic-path --run_dir: the run folders of the folds whose ensemble the packaged "
                             "inference.yaml runs (any_dataset_ensemble.yaml; their weights as models/fold_<i>.pt)")
    parser.add_argument("--keep_largest", nargs="*", type=int, default=[], metavar="VALUE",
                        help="with --ensemble: label values whose largest connected component alone is kept")
    args = parser.parse_args(argv)
    try:
        bundle, weights, overrides = args.bundle, args.weights, parse_set(args.set)
        if args.run_dir:
            bundle, run_weights, run_overrides, extra = from_run_dir(Path(args.run_dir))
            weights, overrides = weights or run_weights, {**run_overrides, **overrides}
            if args.ensemble:
                extra, ensemble = add_ensemble(Path(args.run_dir), extra, [Path(r) for r in args.ensemble])
                overrides.update(ensemble=ensemble, keep_largest=list(args.keep_largest))
        elif args.ensemble:
            parser.error("--ensemble needs --run_dir (a generic-path run of one of the folds)")
        elif not bundle:
            parser.error("give a bundle folder (bundles/<name>) or --run_dir")
        archive = package_bundle(bundle, args.out, weights=weights, overrides=overrides, base=args.base, name=args.name,
                                 **(extra if args.run_dir else {}))
    except (FileNotFoundError, ValueError) as e:
        print(f"FAIL {e}", file=sys.stderr)
        return 1
    print(archive)
    return 0


if __name__ == "__main__":
    sys.exit(main())
