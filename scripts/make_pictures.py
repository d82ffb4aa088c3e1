#!/usr/bin/env python
"""Pictures of a trained bundle, as PNG and in TensorBoard: training curves (loss, IoU, Dice, accuracy; train and
validation), every evaluated case (each modality, ground truth, prediction, error overlay), a gallery of the worst
and best cases by Dice and the saliency per input modality (experiments.pictures).

Of a comparison run (scripts/compare_variants.py; pictures are made there already, this redraws them):

    python scripts/make_pictures.py --run_dir runs/compare/seed000_architectures/runs/unet-bundle-s0-<key>

Of any bundle run, with the configs and overrides it was evaluated with (here the demo's):

    python scripts/make_pictures.py --config_file "['bundles/unet/configs/train.yaml','bundles/unet/configs/evaluate.yaml']" \\
        --set dataset_dir=data/Task01_BrainTumour_synthetic --set "roi_size=[64, 64]" --set target_params=0 \\
        --set features=16 --set ckpt_dir=runs/demo/models --set device=cpu \\
        --train_dir runs/demo/train --eval_dir runs/demo/eval --out_dir runs/demo/pictures
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments import draw_pictures, run_pictures  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run_dir", help="a comparison run folder (spec.json, evaluate.yaml, models/, train/, test_eval/)")
    ap.add_argument("--config_file", help="evaluate config(s) of a bundle: a path or a list \"['a.yaml','b.yaml']\"")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="top-level override (YAML value)")
    ap.add_argument("--train_dir", help="TensorBoard log folder of the training (curves)")
    ap.add_argument("--eval_dir", help="evaluation output folder (val_mean_dice_raw.csv orders the gallery)")
    ap.add_argument("--out_dir", help="folder of the PNG files")
    ap.add_argument("--gallery", type=int, default=2, help="cases in each half of the gallery")
    args = ap.parse_args(argv)
    if bool(args.run_dir) == bool(args.config_file):
        ap.error("give either --run_dir or --config_file")
    if args.run_dir:
        paths = run_pictures(Path(args.run_dir).absolute(), num_gallery=args.gallery, root=ROOT)
    else:
        if not args.out_dir:
            ap.error("--config_file needs --out_dir")
        files = ast.literal_eval(args.config_file) if args.config_file.startswith("[") else [args.config_file]
        overrides = {}
        for item in args.set:
            key, sep, value = item.partition("=")
            if not sep:
                ap.error(f"--set {item!r}: expected key=value")
            overrides[key] = yaml.safe_load(value)
        absolute = {k: str(Path(v).absolute()) for k, v in overrides.items() if k.endswith("_dir") and isinstance(v, str)}
        out = Path(args.out_dir).absolute()
        train_dir, eval_dir = (Path(d).absolute() if d else None for d in (args.train_dir, args.eval_dir))
        os.chdir(ROOT)  # bundle configs name their shared YAML relative to the repository root
        paths = draw_pictures(files, out, train_dir, eval_dir, {**overrides, **absolute}, num_gallery=args.gallery)
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
