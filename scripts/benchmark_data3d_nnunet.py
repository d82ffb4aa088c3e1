"""nnU-Net's side of scripts/benchmark_data3d.py: its own training data loader, timed in nnU-Net's environment.

Run by benchmark_data3d.py with nnU-Net's Python (``/work/nnunet_env/bin/python``, made by
``../shared/tools/nnunet_peer_env.sh``), after ``nnUNetv2_plan_and_preprocess -c 3d_fullres``, with ``nnUNet_raw``,
``nnUNet_preprocessed`` and ``nnUNet_results`` set. Imports nnU-Net and nothing of this repository (nnU-Net is never
a dependency of ours; this file is not part of any package).

The loader is built the way ``nnUNetTrainer.get_dataloaders`` builds its training loader: the trainer's
``configure_rotation_dummyDA_mirroring_and_inital_patch_size``, ``get_training_transforms`` (with its
deep-supervision scales, mask, labels) and ``get_tr_and_val_datasets`` (fold ``all``: every case), then
``nnUNetDataLoader`` with the larger initial patch and the final patch; single-threaded
(``SingleThreadedAugmenter``, as ``nnUNet_n_proc_DA=0``) and with background workers
(``NonDetMultiThreadedAugmenter``, as ``nnUNet_n_proc_DA=N``). Prints one JSON line: patches/s per setting.

    nnUNet_raw=... nnUNet_preprocessed=... nnUNet_results=... python scripts/benchmark_data3d_nnunet.py \
        --dataset Dataset901_SynthMRI --patch_size 96 128 128 --batch_size 2 --batches 30 --warmup 4 --workers 0 1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def build_train_loader(dataset: str, patch_size: list[int] | None, batch_size: int):
    """nnUNetTrainer's training ``nnUNetDataLoader`` (3d_fullres, fold ``all``) with ``patch_size`` and ``batch_size``
    replacing the plan's; also returns the trainer."""
    import torch
    from batchgenerators.utilities.file_and_folder_operations import join, load_json
    from nnunetv2.paths import nnUNet_preprocessed
    from nnunetv2.training.dataloading.data_loader import nnUNetDataLoader
    from nnunetv2.training.dataloading.nnunet_dataset import infer_dataset_class
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    folder = join(nnUNet_preprocessed, dataset)
    plans = load_json(join(folder, "nnUNetPlans.json"))
    config = plans["configurations"]["3d_fullres"]
    if patch_size:
        config["patch_size"] = [int(p) for p in patch_size]
    config["batch_size"] = int(batch_size)
    plans["continue_training"] = False  # what run_training sets
    trainer = nnUNetTrainer(plans, "3d_fullres", "all", load_json(join(folder, "dataset.json")), torch.device("cpu"))
    trainer.initialize()

    # nnUNetTrainer.get_dataloaders, its training half
    trainer.dataset_class = infer_dataset_class(trainer.preprocessed_dataset_folder)
    patch = trainer.configuration_manager.patch_size
    rotation, dummy_2d, initial_patch, mirror_axes = trainer.configure_rotation_dummyDA_mirroring_and_inital_patch_size()
    tr_transforms = trainer.get_training_transforms(
        patch, rotation, trainer._get_deep_supervision_scales(), mirror_axes, dummy_2d,
        use_mask_for_norm=trainer.configuration_manager.use_mask_for_norm, is_cascaded=trainer.is_cascaded,
        foreground_labels=trainer.label_manager.foreground_labels,
        regions=trainer.label_manager.foreground_regions if trainer.label_manager.has_regions else None,
        ignore_label=trainer.label_manager.ignore_label,
    )  # fmt: skip
    dataset_tr, _ = trainer.get_tr_and_val_datasets()
    loader = nnUNetDataLoader(
        dataset_tr, trainer.batch_size, initial_patch, patch, trainer.label_manager,
        oversample_foreground_percent=trainer.oversample_foreground_percent, sampling_probabilities=None,
        pad_sides=None, transforms=tr_transforms, probabilistic_oversampling=trainer.probabilistic_oversampling,
    )  # fmt: skip
    loader.train_transforms = tr_transforms
    info = {
        "patch_size": [int(p) for p in patch], "initial_patch_size": [int(p) for p in initial_patch],
        "batch_size": int(trainer.batch_size), "dummy_2d": bool(dummy_2d), "cases": len(dataset_tr.identifiers),
        "oversample_foreground_percent": trainer.oversample_foreground_percent,
        "transforms": [_name(t) for t in tr_transforms.transforms],
    }  # fmt: skip
    return loader, info


def _name(t) -> str:
    return type(t.transform if type(t).__name__ == "RandomTransform" else t).__name__


def profile_stages(loader, patches: int) -> dict[str, float]:
    """CPU milliseconds per patch of each stage, in this process (one thread: CPU time does not depend on the
    machine's load): the loader's case loading and crop of the initial patch (``generate_train_batch`` without
    transforms), then every training transform on its own."""
    transforms = loader.train_transforms.transforms
    names = []
    for t in transforms:
        name = _name(t)
        names.append(name if name not in names else f"{name} #{sum(n.startswith(name) for n in names) + 1}")
    times = dict.fromkeys(["load + crop (initial patch)", *names], 0.0)
    loader.transforms = None
    n = 0
    while n < patches:
        t0 = time.process_time()
        batch = loader.generate_train_batch()
        times["load + crop (initial patch)"] += time.process_time() - t0
        for j in range(batch["data"].shape[0]):
            d = {"image": batch["data"][j], "segmentation": batch["target"][j]}
            for name, t in zip(names, transforms):
                t0 = time.process_time()
                d = t(**d)
                times[name] += time.process_time() - t0
            n += 1
    loader.transforms = loader.train_transforms
    return {k: 1000.0 * v / n for k, v in times.items()}


def time_batches(augmenter, warmup: int, batches: int) -> dict:
    """Patches per wall second (and per CPU second of this process) over ``batches`` batches after ``warmup``."""
    for _ in range(warmup):
        next(augmenter)
    n = 0
    t, c = time.perf_counter(), time.process_time()
    for _ in range(batches):
        n += int(next(augmenter)["data"].shape[0])
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    return {"patches": n, "seconds": wall, "patches_per_s": n / wall, "patches_per_cpu_s": n / max(cpu, 1e-9)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True, help="DatasetXXX_Name, planned and pre-processed (3d_fullres)")
    ap.add_argument("--patch_size", type=int, nargs=3, default=None, help="nnU-Net's axis order; default the plan's")
    ap.add_argument("--batch_size", type=int, default=2)
    ap.add_argument("--batches", type=int, default=30, help="timed batches")
    ap.add_argument("--warmup", type=int, default=4, help="batches before timing")
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1], help="0: single-threaded; N: N background workers")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", type=int, default=0, help="patches for a per-stage profile (0: none)")
    args = ap.parse_args(argv)

    import numpy as np
    import torch
    from batchgenerators.dataloading.nondet_multi_threaded_augmenter import NonDetMultiThreadedAugmenter
    from batchgenerators.dataloading.single_threaded_augmenter import SingleThreadedAugmenter

    torch.set_num_threads(1)  # equal cores: one thread in the loading process (its workers set 1 themselves)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    loader, info = build_train_loader(args.dataset, args.patch_size, args.batch_size)
    results = {}
    for workers in args.workers:
        if workers == 0:
            augmenter = SingleThreadedAugmenter(loader, None)
        else:  # as nnUNetTrainer.get_dataloaders with nnUNet_n_proc_DA=workers
            augmenter = NonDetMultiThreadedAugmenter(
                data_loader=loader, transform=None, num_processes=workers, num_cached=max(6, workers // 2),
                seeds=None, pin_memory=False, wait_time=0.002,
            )  # fmt: skip
        results[str(workers)] = time_batches(augmenter, args.warmup, args.batches)
        if workers:
            augmenter._finish()
        print(f"  nnU-Net, {workers} worker(s): {results[str(workers)]['patches_per_s']:.2f} patches/s", file=sys.stderr)
    profile = profile_stages(loader, args.profile) if args.profile else {}
    report = {"info": info, "results": results, "profile": profile, "nnunet_n_proc_DA": os.environ.get("nnUNet_n_proc_DA")}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
