"""Whole-case inference of the generic path from a plan: the inferer (Gaussian-weighted sliding windows in 3D,
slice-wise for a 2D network on 3D data) and the post-processing of validation, evaluation and inference."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from monai.inferers import Inferer, SlidingWindowInferer
from monai.transforms import Activationsd, AsDiscreted, Compose, Invertd

from engines.flags import FlagError, as_flag
from engines.overlay import MultiClassOverlayHandler
from inferers.adaptive import AdaptiveSliceInferer
from inferers.foreground_crop import ForegroundCropInferer
from inferers.mirror_tta import MirrorTTAInferer

__all__ = [
    "PlanOverlayHandler",
    "plan_inference_postprocessing",
    "plan_inferer",
    "plan_postprocessing",
]


def plan_inferer(
    plan: Mapping,
    sw_batch_size: int = 4,
    overlap: float = 0.5,
    mode: str = "gaussian",
    data_dims: int | None = None,
    tta: bool | str = False,
    crop_foreground: bool | str | None = None,
    rotation_degrees: float | None = None,
) -> Inferer:
    """The inferer of whole pre-processed cases for a plan.

    * 3D network, or a 2D network on 2D images: MONAI ``SlidingWindowInferer`` with the plan's patch size;
    * 2D network on 3D cases: slice by slice along the plan's ``slice_axis`` (:class:`~inferers.AdaptiveSliceInferer`,
      MONAI's ``SliceInferer`` that backs off when memory runs out), sliding 2D windows of the patch size in-plane.

    Args:
        plan: the run's plan (``spatial_dims``, ``patch_size``, ``slice_axis``).
        sw_batch_size: windows (or slices) per network call.
        overlap: overlap of neighbouring windows (nnU-Net: 0.5).
        mode: blending of overlapping windows (``"gaussian"``: nnU-Net's Gaussian importance weighting).
        data_dims: spatial dimensions of the cases; by default 2 when the plan has no slice axis, else 3.
        tta: mirroring test-time augmentation (:class:`MirrorTTAInferer`) along the network's axes (a 2D network
            on 3D data: the in-plane axes, not the slice axis); ``"dihedral"``: quarter turns as well, in the first
            plane of those axes with equal target spacing (2D: 8 passes instead of 4); ``"auto"``: dihedral on 2D
            images with square pixels when training rotated them by at least a quarter turn (``rotation_degrees``
            >= 90: the network has seen every orientation), mirroring otherwise; False: one pass.
        crop_foreground: infer on the non-zero bounding box only (:class:`~inferers.ForegroundCropInferer`, outside
            it the plan's background logits, around the mirroring so the box is found once); None: as the plan's
            ``crop_to_nonzero``, so that inference sees what training saw. The plan's pre-processing crops the
            cases already (``data.loaders.case_preprocessing``), so there the box is the whole case and the
            wrapper calls the inferer on it directly: it guards inputs that did not pass through that crop.
        rotation_degrees: the training's rotation range (+-, degrees) for ``tta="auto"``; None: mirroring.

    Returns:
        ``inferer(inputs (B, C, *spatial), network) -> (B, out_channels, *spatial)``.
    """
    patch = [int(p) for p in plan["patch_size"]]
    if data_dims is None:
        data_dims = 2 if plan.get("slice_axis") is None else 3
    if int(plan["spatial_dims"]) == 2 and data_dims == 3:
        axis = int(plan["slice_axis"])
        inferer: Inferer = AdaptiveSliceInferer(
            spatial_dim=axis, roi_size=patch, sw_batch_size=sw_batch_size, overlap=overlap, mode=mode, progress=False
        )
        axes = [a for a in range(3) if a != axis]
    else:
        inferer = SlidingWindowInferer(roi_size=patch, sw_batch_size=sw_batch_size, overlap=overlap, mode=mode)
        axes = list(range(data_dims))
    mode_tta = _tta_mode(tta)
    plane = _equally_spaced_plane(plan, axes) if mode_tta in ("auto", "dihedral") else None
    if mode_tta == "auto":
        turned = rotation_degrees is not None and float(rotation_degrees) >= 90.0
        square = data_dims == 2 and int(plan["spatial_dims"]) == 2 and plane is not None
        mode_tta = "dihedral" if turned and square else "mirror"
    if mode_tta == "dihedral" and plane is None:
        raise ValueError(
            f"tta dihedral turns a plane with equal spacing on its two axes; the plan's target spacing "
            f"{plan.get('target_spacing')} has none among the axes {axes}: use --tta true (mirroring)."
        )
    if mode_tta:
        inferer = MirrorTTAInferer(inferer, spatial_axes=axes, rotation_plane=plane if mode_tta == "dihedral" else None)
    crop = plan.get("crop_to_nonzero", False) if crop_foreground is None else crop_foreground
    if _flag(crop):
        inferer = ForegroundCropInferer(
            inferer=inferer, background=plan.get("activation", "softmax"), out_channels=plan.get("out_channels")
        )
    return inferer


def _tta_mode(value) -> str:
    """``tta`` as ``""`` (off), ``"mirror"``, ``"dihedral"`` or ``"auto"``; a flag (bool or "true"/"false") is off or
    mirror."""
    if isinstance(value, str) and value.strip().lower() in ("mirror", "dihedral", "auto"):
        return value.strip().lower()
    try:
        return "mirror" if as_flag(value, "tta") else ""
    except FlagError:
        raise FlagError(f"--tta must be auto, true, false, mirror or dihedral, got {value!r}.") from None


def _equally_spaced_plane(plan: Mapping, axes: list[int]) -> tuple[int, int] | None:
    """The first pair of ``axes`` with equal target spacing (quarter turns keep the voxel grid's geometry there), or
    None."""
    spacing = [float(s) for s in plan.get("target_spacing") or [1.0] * (max(axes) + 1)]
    for i, a in enumerate(axes):
        for b in axes[i + 1 :]:
            if abs(spacing[a] - spacing[b]) <= 1e-3 * max(spacing[a], spacing[b]):
                return (a, b)
    return None


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def plan_postprocessing(plan: Mapping, pred_key: str = "pred", label_key: str = "label") -> Compose:
    """Validation/evaluation post-processing: logits -> one-hot prediction, and the label made one-hot alike.

    Softmax plans: softmax -> argmax -> one-hot of ``out_channels`` classes (label index map one-hot encoded);
    sigmoid plans (regions): sigmoid -> threshold 0.5 per region (the label already has one channel per region).
    """
    n = int(plan["out_channels"])
    if plan["activation"] == "softmax":
        return Compose(
            [
                Activationsd(keys=pred_key, softmax=True),
                AsDiscreted(keys=[pred_key, label_key], argmax=[True, False], to_onehot=[n, n]),
            ]
        )
    return Compose([Activationsd(keys=pred_key, sigmoid=True), AsDiscreted(keys=pred_key, threshold=0.5)])


def plan_inference_postprocessing(
    plan: Mapping, preprocessing, pred_key: str = "pred", image_key: str = "image"
) -> Compose:
    """Inference post-processing: probabilities put back into the input's geometry (MONAI ``Invertd`` undoes the
    resampling and the crop of ``preprocessing``, interpolating the probabilities; the image too, for the pictures),
    then argmax (classes: ``(1, *spatial)`` training indices) or threshold 0.5 (regions: ``(R, *spatial)``)."""
    activation = {"softmax": True} if plan["activation"] == "softmax" else {"sigmoid": True}
    chain = [
        Activationsd(keys=pred_key, **activation),
        Invertd(
            keys=[pred_key, image_key], transform=preprocessing, orig_keys=[image_key, image_key],
            nearest_interp=False, to_tensor=True,
        ),  # fmt: skip
    ]
    if plan["activation"] == "softmax":
        chain.append(AsDiscreted(keys=pred_key, argmax=True))
    else:
        chain.append(AsDiscreted(keys=pred_key, threshold=0.5))
    return Compose(chain)


class PlanOverlayHandler(MultiClassOverlayHandler):
    """:class:`~engines.MultiClassOverlayHandler` for a plan: channel and class names from the data set, slices along
    the plan's slice axis; region-based plans draw and score each region channel ``(R, *spatial)`` whole (classes
    ``background, region 1, ...``).

    Args:
        plan: the run's plan (``channel_names``, ``class_names``, ``region_based``, ``slice_axis``).
        output_dir, log_dir, tag: as :class:`~engines.MultiClassOverlayHandler`.
    """

    def __init__(self, plan: Mapping, output_dir: str, log_dir: str | None = None, tag: str = "validation") -> None:
        self.region_based = bool(plan.get("region_based"))
        names = list(plan["class_names"])
        super().__init__(
            output_dir=output_dir, class_names=(["background", *names] if self.region_based else names),
            log_dir=log_dir, tag=tag, channel_names=list(plan["channel_names"]),
            axis=2 if plan.get("slice_axis") is None else int(plan["slice_axis"]), regions=self.region_based,
        )  # fmt: skip
