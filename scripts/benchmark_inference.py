"""Benchmark (3) inference: one 240 x 240 x 155 x 4 volume end to end (read NIfTI, slice-wise inference, write the
label-map NIfTI), fp32 vs bf16, ours vs a plain per-slice loop, all measured in one run.

* ours: bundles/unet's inference.yaml as the bundle runs it (``SupervisedEvaluator``: ``LoadVolumed``, checks,
  standardisation, centre crop to 144 x 144, MONAI ``SliceInferer`` with ``sw_batch_size`` = ``infer_batch_size`` (8 on a CPU),
  sigmoid, ``Invertd`` back to 240 x 240, threshold, ``SaveImaged``, overlay picture), with the 8.5 M U-Net (random
  weights: speed does not depend on them). bf16 wraps the slice inferer in ``inferers.AutocastInferer`` (MONAI's
  own ``amp`` autocasts to CUDA only).
* plain: what one writes by hand: nibabel load, the same standardisation and crop in numpy, a Python loop over
  the 155 slices calling the network on one slice at a time, pad back, nibabel save.

Stage times of ours (read + pre-processing, network, post-processing + write) are measured separately in the same
run, and the network stage alone at other numbers of slices per call (``--batch_scan``; the CPU default of
``infer_batch_size`` was chosen from it). Target: <= 10 s end to end with bf16 on 2 cores.

With ``--crop`` it measures instead the foreground crop (``inferers.ForegroundCropInferer`` around the slice
inferer: the network sees only the slices and the in-plane box of the non-zero voxels, the rest is filled with a
background logit) on and off, with the bundle's default precision (``amp: auto``) and with float32, end to end and
the network stage alone, and with the evaluator's fused network copy off (``fuse``: :mod:`networks.fusion`), on a
BraTS-like volume whose brain fills ``--brain_box`` voxels (real BraTS: about 140 x 170 x 140 of 240 x 240 x 155); it
writes the ``inference_crop`` section.

Examples:
    python scripts/benchmark_inference.py           # full, writes docs/benchmarks.md
    python scripts/benchmark_inference.py --quick   # smoke test: tiny volume and network, nothing written
    python scripts/benchmark_inference.py --crop    # foreground crop on/off x amp auto/fp32
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import ROOT, header, load, write_section  # noqa: E402

sys.path.insert(0, str(ROOT))

import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from monai.bundle import ConfigParser  # noqa: E402

from networks import count_parameters  # noqa: E402
from formats.msd.synthetic import generate_msd_task01, synthesize_brain_tumour_case  # noqa: E402


def bundle_parser(dataset_dir: str, out_dir: str, ckpt_dir: str, dtype: str, overrides: dict) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config([str(ROOT / "bundles/unet/configs/train.yaml"), str(ROOT / "bundles/unet/configs/inference.yaml")])
    parser.update({"dataset_dir": dataset_dir, "output_dir": out_dir, "ckpt_dir": ckpt_dir, "device": "$torch.device('cpu')"})
    if dtype in ("fp32", "bf16"):  # explicit: the bundles default to amp auto (bf16 + channels-last on this CPU)
        parser.update({"amp": False, "channels_last": False})
    parser.update(overrides)
    parser.resolve_macro_and_relative_ids()
    if dtype == "bf16":
        inner = parser["validate"]["slice_inferer"]
        parser["validate"]["slice_inferer"] = {"_target_": "inferers.AutocastInferer", "inferer": inner, "dtype": "bfloat16"}
    return parser


def plain_loop(net: torch.nn.Module, image_path: str, out_path: str, roi: int, dtype: str) -> None:
    """Read, standardise (per modality over non-zero voxels), crop, one slice at a time, pad back, write."""
    img = nib.load(image_path)
    data = np.asarray(img.dataobj, dtype=np.float32)  # (X, Y, Z, 4)
    for c in range(data.shape[-1]):
        ch = data[..., c]
        mask = ch != 0
        if mask.any():
            ch[mask] = (ch[mask] - ch[mask].mean()) / max(ch[mask].std(), 1e-8)
    X, Y, Z, _ = data.shape
    x0, y0 = (X - roi) // 2 if X > roi else 0, (Y - roi) // 2 if Y > roi else 0
    crop = data[x0 : x0 + roi, y0 : y0 + roi]
    seg = np.zeros((X, Y, Z), np.uint8)
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if dtype == "bf16" else torch.autocast("cpu", enabled=False)
    with torch.no_grad(), ctx:
        for z in range(Z):
            x = torch.from_numpy(np.ascontiguousarray(crop[:, :, z].transpose(2, 0, 1)))[None]
            p = torch.sigmoid(net(x).float())[0, 0].numpy()
            seg[x0 : x0 + crop.shape[0], y0 : y0 + crop.shape[1], z] = p > 0.5
    nib.save(nib.Nifti1Image(seg, img.affine), out_path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny volume and network, 1 round, nothing written")
    ap.add_argument("--spatial_size", type=int, nargs=3, default=(240, 240, 155))
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    ap.add_argument("--batch_scan", type=int, nargs="*", default=[1, 2, 4, 8, 16, 40],
                    help="slices per network call to time the network stage at (SliceInferer sw_batch_size)")
    ap.add_argument("--no_write", action="store_true")
    ap.add_argument("--crop", action="store_true", help="measure the foreground crop on/off instead (section inference_crop)")
    ap.add_argument("--brain_box", type=int, nargs=3, default=(140, 170, 140),
                    help="--crop: extent of the non-zero region of the test volume (X Y Z voxels)")
    args = ap.parse_args(argv)
    if args.crop:
        return crop_benchmark(args)
    overrides: dict = {}
    roi = 144
    if args.quick:
        args.spatial_size, args.rounds, args.no_write, roi = (48, 48, 8), 1, True, 32
        args.batch_scan = [1, 4]
        overrides = {"target_params": 0, "features": 4, "roi_size": [32, 32], "batch_size": 4}

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = str(Path(tmp) / "Task01_BrainTumour")
        generate_msd_task01(data_dir, num_training=1, num_test=1, spatial_size=tuple(args.spatial_size), seed=0)
        parsers = {d: bundle_parser(data_dir, f"{tmp}/pred_{d}", f"{tmp}/models", d, overrides) for d in ("fp32", "bf16")}
        net = parsers["fp32"].get_parsed_content("network")
        Path(f"{tmp}/models").mkdir()
        torch.save(net.state_dict(), f"{tmp}/models/model.pt")
        net.eval()
        image_path = parsers["fp32"].get_parsed_content("infer_files")[0]["image"]

        evaluators = {d: p.get_parsed_content("infer#evaluator") for d, p in parsers.items()}
        pre = parsers["fp32"].get_parsed_content("infer#preprocessing")
        inferers = {d: p.get_parsed_content("validate#slice_inferer") for d, p in parsers.items()}
        runs = {
            "ours fp32": lambda: evaluators["fp32"].run(),
            "ours bf16": lambda: evaluators["bf16"].run(),
            "plain loop fp32": lambda: plain_loop(net, image_path, f"{tmp}/plain.nii.gz", roi, "fp32"),
            "plain loop bf16": lambda: plain_loop(net, image_path, f"{tmp}/plain.nii.gz", roi, "bf16"),
        }
        times: dict[str, list[float]] = {k: [] for k in [*runs, "read + pre-processing", "network fp32", "network bf16"]}
        loads = [load()]
        for name, fn in runs.items():  # warm-up
            fn()
        for _ in range(args.rounds):
            for name, fn in runs.items():
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
            t = time.perf_counter()
            item = pre({"image": image_path})
            times["read + pre-processing"].append(time.perf_counter() - t)
            for d in ("fp32", "bf16"):
                t = time.perf_counter()
                with torch.no_grad():
                    inferers[d](item["image"][None], net)
                times[f"network {d}"].append(time.perf_counter() - t)
            for b in args.batch_scan:  # the network stage alone at other numbers of slices per call
                for d in ("fp32", "bf16"):
                    inferer = level = copy.copy(inferers[d])
                    # wrappers (AutocastInferer, ForegroundCropInferer) copied down to the slice inferer
                    while not hasattr(level, "sw_batch_size"):
                        level.inferer = copy.copy(level.inferer)
                        level = level.inferer
                    level.sw_batch_size = b
                    t = time.perf_counter()
                    with torch.no_grad():
                        inferer(item["image"][None], net)
                    times.setdefault(f"scan {d} {b}", []).append(time.perf_counter() - t)
            loads.append(load())
        out = Path(f"{tmp}/pred_bf16")
        written = sorted(out.glob("*_seg.nii.gz"))
        assert written and nib.load(str(written[0])).shape == tuple(args.spatial_size), "label map in input geometry"
        a = np.asarray(nib.load(str(written[0])).dataobj)
        b = np.asarray(nib.load(str(sorted(Path(f"{tmp}/pred_fp32").glob("*_seg.nii.gz"))[0])).dataobj)
        disagree = float((a != b).mean())
        depth = args.spatial_size[2]

    med = {k: statistics.median(v) for k, v in times.items()}
    params = count_parameters(net)
    lines = [
        f"One {tuple(args.spatial_size)} x 4 volume (synthetic, gzip NIfTI), network {params:,} parameters "
        f"(bundles/unet at its budget), {depth} slices of {roi} x {roi}; median of {args.rounds} interleaved rounds after a "
        f"warm-up. bf16 and fp32 label maps of ours differ on {100 * disagree:.3f} % of voxels (random weights).",
        f"Load: {loads[0]} (start); {loads[-1]} (end).",
        "",
        "| end to end (read, infer, write) | seconds | vs plain loop fp32 | vs ours fp32 |",
        "|---|---:|---:|---:|",
    ]
    for name in runs:
        lines.append(f"| {name} | {med[name]:.2f} | {med['plain loop fp32'] / med[name]:.2f}x faster | {med['ours fp32'] / med[name]:.2f}x faster |")
    lines += [
        "",
        "Stages of ours (same run): " + ", ".join(f"{k} {med[k]:.2f} s" for k in ("read + pre-processing", "network fp32", "network bf16"))
        + f"; post-processing + write + picture ~ {max(med['ours bf16'] - med['read + pre-processing'] - med['network bf16'], 0):.2f} s (bf16 total minus the two).",
    ]
    if args.batch_scan:
        base = {d: med[f"scan {d} {args.batch_scan[0]}"] for d in ("fp32", "bf16")}
        lines += [
            "",
            f"The network stage of ours alone (SliceInferer over the {depth} slices) at other numbers of slices per "
            f"network call (`sw_batch_size`), same rounds; speed relative to {args.batch_scan[0]} slice(s) per call:",
            "",
            "| slices per call | fp32 s | fp32 speed | bf16 s | bf16 speed |",
            "|---:|---:|---:|---:|---:|",
        ]
        for b in args.batch_scan:
            f, h = med[f"scan fp32 {b}"], med[f"scan bf16 {b}"]
            lines.append(f"| {b} | {f:.2f} | {base['fp32'] / f:.2f}x | {h:.2f} | {base['bf16'] / h:.2f}x |")
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        write_section("inference", header("Inference: one volume end to end, fp32 vs bf16") + "\n" + text)
    return 0


def brats_like_image(path: str, shape: tuple[int, ...], box: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Overwrite the 4D NIfTI at ``path`` with a synthetic brain whose non-zero region spans ``box`` voxels, centred in
    ``shape`` (the generator's brain, cut to its non-zero box and resized linearly to ``box``; zero outside).

    Returns:
        The image written, (X, Y, Z, 4) float32.
    """
    from scipy import ndimage

    image = synthesize_brain_tumour_case(shape, seed=(seed, 485)).image  # (X, Y, Z, 4)
    idx = np.nonzero((image != 0).any(-1))
    brain = image[tuple(slice(int(i.min()), int(i.max()) + 1) for i in idx)]
    brain = ndimage.zoom(brain, [b / n for b, n in zip(box, brain.shape[:3])] + [1], order=1)
    brain = brain[: shape[0], : shape[1], : shape[2]]
    out = np.zeros((*shape, image.shape[-1]), np.float32)
    start = [(n - b) // 2 for n, b in zip(shape, brain.shape[:3])]
    out[tuple(slice(s, s + b) for s, b in zip(start, brain.shape[:3]))] = brain
    nib.save(nib.Nifti1Image(out, nib.load(path).affine), path)
    return out


def _extent(mask: np.ndarray) -> list[tuple[int, int]]:
    idx = np.nonzero(mask)
    return [(int(i.min()), int(i.max()) + 1) for i in idx]


def _crop_inferer(inferer):
    """The ForegroundCropInferer in a chain of wrappers (AutocastInferer(ForegroundCropInferer(...)))."""
    while inferer is not None and type(inferer).__name__ != "ForegroundCropInferer":
        inferer = getattr(inferer, "inferer", None)
    return inferer


def _timed(fn, times: dict, key: str):
    """Run ``fn()``, append its wall and process CPU seconds (all threads) to ``times[key]``; return its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    times.setdefault(key, []).append((time.perf_counter() - wall, time.process_time() - cpu))
    return out


def brats_network_stage(volume: np.ndarray, args, choice, times: dict, quick: bool) -> tuple[str, dict, tuple]:
    """bundles/brats_unet's slice inferer and network on the volume as its pre-processing leaves it (2 modalities,
    slices 5-150, in-plane area-resized to its image size, standardised over the non-zero voxels, zero outside):
    crop off, on, and on with ``fit_roi`` (the slice windows shrunk to the box, multiples of 16 for its depth 4).
    Returns a description, the logits of the last round per configuration and the index of the non-zero box."""
    from engines.precision import to_channels_last
    from inferers import AutocastInferer, ForegroundCropInferer

    parser = ConfigParser()
    parser.read_config([str(ROOT / f"bundles/brats_unet/configs/{name}.yaml") for name in ("train", "inference")])
    # the bundle's own crop off: this stage wraps the slice inferer itself, to time fit_roi beside it
    parser.update({"device": "$torch.device('cpu')", "crop_foreground": False,
                   **({"features": 4, "image_size": [32, 32]} if quick else {})})
    parser.resolve_macro_and_relative_ids()
    size = [int(v) for v in parser.get_parsed_content("image_size")]
    x = torch.from_numpy(volume[..., :2]).permute(2, 3, 0, 1)[5:150]  # (Z, C, X, Y)
    x = torch.nn.functional.interpolate(x, size=size, mode="area").permute(1, 2, 3, 0)[None].contiguous()
    for c in range(x.shape[1]):
        ch = x[0, c]
        mask = ch != 0
        ch[mask] = (ch[mask] - ch[mask].mean()) / ch[mask].std().clamp_min(1e-8)
    nets = {"fp32": parser.get_parsed_content("network").eval()}
    nets["amp auto"] = to_channels_last(copy.deepcopy(nets["fp32"]), choice.channels_last)
    logits = {}
    for _ in range(args.rounds + 1):  # the first round is the warm-up
        for p, net in nets.items():
            for mode in ("off", "on", "on, fit_roi"):
                inner = copy.copy(parser.get_parsed_content("validate#slice_inferer"))
                inferer = inner if mode == "off" else ForegroundCropInferer(
                    inferer=inner, background="softmax", out_channels=4, fit_roi=mode.endswith("fit_roi"), divisible_by=16
                )  # fmt: skip
                if p == "amp auto" and choice.amp:
                    inferer = AutocastInferer(inferer, "cpu", choice.amp_dtype)
                with torch.no_grad():
                    logits[f"{p}, crop {mode}"] = _timed(lambda: inferer(x, net), times, f"brats {p}, crop {mode}")
    for key in [k for k in times if k.startswith("brats ")]:
        times[key] = times[key][1:]  # drop the warm-up
    box = _extent((x[0] != 0).any(0).numpy())
    text = (f"bundles/brats_unet's network stage ({count_parameters(nets['fp32']):,} parameters, 4-class softmax, "
            f"random weights) on the same volume as its pre-processing leaves it: 2 modalities, {x.shape[-1]} slices "
            f"(5-150) of {size[0]} x {size[1]} (area-resized), standardised over the non-zero voxels; non-zero box "
            f"{' x '.join(str(b - a) for a, b in box)} ({box}). fit_roi: the slice windows shrunk to the box grown to "
            f"multiples of 16 (its depth 4) instead of the box padded to the {size[0]} x {size[1]} roi.")  # fmt: skip
    return text, logits, (..., *(slice(a, b) for a, b in box))


def crop_benchmark(args) -> int:
    """The foreground crop on and off, amp auto and fp32: end to end and the network stage, interleaved rounds."""
    from engines.auto_precision import choose_precision

    overrides: dict = {}
    shape, box = tuple(args.spatial_size), tuple(args.brain_box)
    if args.quick:
        shape, box, args.rounds, args.no_write = (48, 48, 160), (28, 34, 140), 1, True
        overrides = {"target_params": 0, "features": 4, "roi_size": [32, 32], "batch_size": 4}
    precisions = {"amp auto": {}, "fp32": {"amp": False, "channels_last": False}}
    configs = {f"{p}, crop {c}": (p, c) for p in precisions for c in ("off", "on")}
    configs["amp auto, crop on, unfused"] = ("amp auto", "on")  # the evaluator's fusion off (fuse: false)
    choice = choose_precision("cpu", "auto", "auto", "auto")
    times: dict[str, list[tuple[float, float]]] = {}
    loads = [load()]
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = str(Path(tmp) / "Task01_BrainTumour")
        generate_msd_task01(data_dir, num_training=1, num_test=1, spatial_size=shape, seed=0)
        parsers = {}
        for name, (p, c) in configs.items():
            parser = bundle_parser(data_dir, f"{tmp}/pred {name}", f"{tmp}/models", "auto", {**overrides, **precisions[p]})
            parser["crop_foreground"] = c == "on"  # the bundle's own switch (validate#slice_inferer's crop)
            parser["infer"]["evaluator"]["fuse"] = not name.endswith("unfused")
            parsers[name] = parser
        first = next(iter(parsers.values()))
        image_path = first.get_parsed_content("infer_files")[0]["image"]
        volume = brats_like_image(image_path, shape, box)
        extent = _extent((volume != 0).any(-1))
        net = first.get_parsed_content("network")
        Path(f"{tmp}/models").mkdir()
        torch.save(net.state_dict(), f"{tmp}/models/model.pt")
        evaluators = {name: p.get_parsed_content("infer#evaluator") for name, p in parsers.items()}
        pre = first.get_parsed_content("infer#preprocessing")
        logits: dict[str, torch.Tensor] = {}
        for ev in evaluators.values():  # warm-up; loads the checkpoint into each network
            ev.run()
            ev.network.eval()  # the evaluator's eval mode ends with its run
        item = pre({"image": image_path})
        for _ in range(args.rounds):
            for name, ev in evaluators.items():
                _timed(ev.run, times, f"e2e {name}")
                with torch.no_grad():  # the network the evaluator runs: a fused copy unless fuse is off
                    net = ev.inference_network()
                    logits[name] = _timed(lambda: ev.inferer(item["image"][None], net), times, f"net {name}")
        crop = _crop_inferer(evaluators["fp32, crop on"].inferer)
        z0, z1 = crop.last_box[0][2], crop.last_box[1][2]
        inferred = tuple(item["image"].shape[1:])
        for n in configs:
            written = nib.load(str(next(Path(f"{tmp}/pred {n}").glob("*_seg.nii.gz"))))
            assert written.shape == shape, "label map in the input geometry"
        brats_text, brats_logits, brats_box = brats_network_stage(volume, args, choice, times, args.quick)
    loads.append(load())

    def compare(on: torch.Tensor, off: torch.Tensor, region, label) -> str:
        """max |difference| of the logits and share of voxels labelled differently inside ``region``."""
        on, off = on.float()[region], off.float()[region]
        return f"max |difference| {float((on - off).abs().max()):.2g}, {100 * float((label(on) != label(off)).float().mean()):.3f} %"

    region = (..., *(slice(a, b) for a, b in zip(*crop.last_box)))
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    lines = [
        f"One {shape} x 4 volume (synthetic BraTS-like, gzip NIfTI) whose non-zero region spans "
        f"{' x '.join(str(b - a) for a, b in extent)} voxels ({extent}); bundles/unet's inference (centre crop to "
        f"{inferred[0]} x {inferred[1]} in-plane, {inferred[2]} axial slices, network {count_parameters(net):,} parameters, "
        f"random weights). With the crop the network saw slices {z0}..{z1 - 1}: {z1 - z0} of {inferred[2]} "
        f"(in-plane the box {crop.last_box[0][:2]}..{crop.last_box[1][:2]} is grown to the roi: whole {inferred[0]} x "
        f"{inferred[1]} slices). Median of {args.rounds} interleaved rounds after a warm-up; wall seconds and "
        f"the process's CPU seconds (all threads; less sensitive to other jobs). amp auto here: {choice.describe()}.",
        f"Load: {loads[0]} (start); {loads[-1]} (end) (the benchmark's own 2 threads count in the end figure; "
        "compare the rows with each other, and load well above 2 means other jobs shared the machine).",
        "",
        "| precision | crop | end to end s | end to end CPU s | network stage s | network stage CPU s | CPU speed-up over crop off (end to end, network) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, (p, c) in configs.items():
        e, n, e0, n0 = med[f"e2e {name}"], med[f"net {name}"], med[f"e2e {p}, crop off"], med[f"net {p}, crop off"]
        crop_cell = c + (", fusion off" if name.endswith("unfused") else "")
        lines.append(f"| {p} | {crop_cell} | {e[0]:.2f} | {e[1]:.2f} | {n[0]:.2f} | {n[1]:.2f} | {e0[1] / e[1]:.2f}x, {n0[1] / n[1]:.2f}x |")
    lines += [
        "",
        "Crop on vs off inside the box (logits of the network stage; labels: logit > 0): "
        + "; ".join(f"{p} {compare(logits[f'{p}, crop on'], logits[f'{p}, crop off'], region, lambda t: t > 0)}"
                    for p in precisions)  # fmt: skip
        + ". Outside the box the crop writes background (logit -20), where a trained network predicts background. "
        + "Fused copy (batch norm folded, activations in place; the evaluators' default) vs the network itself, amp "
        + f"auto, crop on: {compare(logits['amp auto, crop on'], logits['amp auto, crop on, unfused'], region, lambda t: t > 0)}"
        + " of the voxels labelled differently (bfloat16 rounds the folded weights differently).",
        "",
        brats_text,
        "",
        "| precision | crop | network stage s | network stage CPU s | CPU speed-up by the crop |",
        "|---|---|---:|---:|---:|",
    ]
    for p in precisions:
        for c in ("off", "on", "on, fit_roi"):
            n, n0 = med[f"brats {p}, crop {c}"], med[f"brats {p}, crop off"]
            lines.append(f"| {p} | {c} | {n[0]:.2f} | {n[1]:.2f} | {n0[1] / n[1]:.2f}x |")
    lines += [
        "",
        "Inside the box, crop on vs off (labels: argmax): "
        + "; ".join(
            f"{p}, crop {c}: {compare(brats_logits[f'{p}, crop {c}'], brats_logits[f'{p}, crop off'], brats_box, lambda t: t.argmax(1))}"
            for p in precisions for c in ("on", "on, fit_roi")
        )
        + " of the voxels labelled differently.",
    ]
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        write_section("inference_crop", header("Inference with the foreground crop (issue 21)") + "\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
