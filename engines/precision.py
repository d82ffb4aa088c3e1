"""Mixed precision and channels-last memory format for MONAI's supervised trainer and evaluator, on CUDA and on CPU.

MONAI's engines support only CUDA autocast: with ``amp=True`` they enter ``torch.autocast("cuda")`` and the trainer
creates ``torch.cuda.amp.GradScaler()``, so on a CPU they silently train in float32 (both disable themselves with a
warning). :class:`MixedPrecisionTrainer` and :class:`MixedPrecisionEvaluator` keep MONAI's CUDA float16 path (autocast
+ GradScaler) and add bfloat16 autocast on CPU (and on CUDA): the inferer is wrapped by :class:`inferers.AutocastInferer`, so
exactly the forward pass runs under ``torch.autocast(device.type, dtype)``, its outputs are cast back to float32 for
the loss, post-processing and metrics, and the backward pass runs outside autocast (as PyTorch recommends).
bfloat16 has float32's exponent range, so it needs no gradient scaling.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from ignite.engine import Events
from monai.engines import SupervisedEvaluator, SupervisedTrainer
from monai.inferers import Inferer

from inferers.autocast import AutocastInferer
from networks.fusion import fuse_for_inference, unwrap_ddp

from .auto_precision import choose_precision, is_auto
from .flags import as_flag as _as_flag

__all__ = [
    "AMP_DTYPES",
    "MixedPrecisionEvaluator",
    "MixedPrecisionTrainer",
    "resolve_amp_dtype",
    "resolve_auto",
    "to_channels_last",
]

AMP_DTYPES = {"auto": None, "float16": torch.float16, "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
_FLAG = "_channels_last_inputs"  # attribute marking a module whose inputs a pre-hook already converts


def resolve_amp_dtype(amp_dtype: str | torch.dtype, device: str | torch.device) -> torch.dtype:
    """The autocast dtype for ``device``: ``"auto"`` is float16 on CUDA and bfloat16 elsewhere.

    Args:
        amp_dtype: ``"auto"``, ``"float16"``/``"fp16"``, ``"bfloat16"``/``"bf16"`` or a ``torch.dtype``.
        device: the engine's device.

    Raises:
        ValueError: for an unknown name, and for float16 off CUDA (it needs a gradient scaler, which MONAI's trainer
            only has on CUDA; bfloat16 does not).
    """
    device = torch.device(device)
    if isinstance(amp_dtype, torch.dtype):
        dtype = amp_dtype
    else:
        key = str(amp_dtype).strip().lower()
        if key not in AMP_DTYPES:
            raise ValueError(f"amp_dtype must be one of {sorted(AMP_DTYPES)}, got {amp_dtype!r}.")
        dtype = AMP_DTYPES[key] or (torch.float16 if device.type == "cuda" else torch.bfloat16)
    if dtype not in (torch.float16, torch.bfloat16):
        raise ValueError(f"amp_dtype must be float16 or bfloat16, got {dtype}.")
    if dtype == torch.float16 and device.type != "cuda":
        raise ValueError(f"amp_dtype float16 is supported on CUDA only (device {device}); use bfloat16 (or auto).")
    return dtype


def _memory_format(network: torch.nn.Module) -> torch.memory_format:
    """channels_last_3d for a network with 3D convolution weights (5D tensors), otherwise channels_last."""
    return torch.channels_last_3d if any(p.dim() == 5 for p in network.parameters()) else torch.channels_last


def to_channels_last(network: torch.nn.Module, enabled: bool | str = True) -> torch.nn.Module:
    """Store the 4D (2D nets) or 5D (3D nets) weights of ``network`` in channels-last order, in place, and convert
    its 4D/5D tensor inputs likewise with a forward pre-hook (registered once). Returns ``network``.

    Convolutions then run on NHWC (NDHWC) tensors, which oneDNN on CPUs and tensor cores on GPUs prefer. Parameters
    keep their identity, so an optimizer made before stays valid. For DistributedDataParallel convert the module
    before wrapping it (bundles/common/configs/multi_gpu_2d.yaml does), so the gradient buckets match.

    Args:
        network: the module (a DistributedDataParallel wrapper is handled through its ``module``).
        enabled: False (or ``"false"``) returns ``network`` unchanged; ``"auto"``: on where the weights' device is
            fast in it (:func:`engines.auto_precision.choose_precision`).
    """
    module = unwrap_ddp(network)
    if is_auto(enabled):  # the device of the weights decides (engines.auto_precision)
        device = next((p.device for p in module.parameters()), torch.device("cpu"))
        enabled = choose_precision(device, "auto", "auto", "auto").channels_last
    if not _as_flag(enabled, "channels_last"):
        return network
    fmt = _memory_format(module)
    module.to(memory_format=fmt)
    if not getattr(module, _FLAG, False):
        ndim = 5 if fmt == torch.channels_last_3d else 4

        def _convert(_module, args, kwargs):
            convert = lambda x: x.contiguous(memory_format=fmt) if isinstance(x, torch.Tensor) and x.dim() == ndim else x  # noqa: E731
            return tuple(convert(a) for a in args), {k: convert(v) for k, v in kwargs.items()}

        module.register_forward_pre_hook(_convert, with_kwargs=True)
        setattr(module, _FLAG, True)
    return network


_ANNOUNCED: set[str] = set()  # precision choices already logged in this process


def resolve_auto(
    device: str | torch.device, amp: bool | str, amp_dtype: str | torch.dtype, channels_last: bool | str
) -> tuple[bool | str, str | torch.dtype, bool | str]:
    """``amp`` / ``amp_dtype`` / ``channels_last`` with ``"auto"`` resolved from the device
    (:func:`engines.auto_precision.choose_precision`); the choice and its reason are logged once per process."""
    if not (is_auto(amp) or is_auto(channels_last)):
        return amp, amp_dtype, channels_last
    choice = choose_precision(device, amp, amp_dtype, channels_last)
    message = choice.describe()
    if message not in _ANNOUNCED:
        _ANNOUNCED.add(message)
        logging.getLogger("engines.precision").info(message)
    return choice.amp, choice.amp_dtype or amp_dtype, choice.channels_last


def _plan(device: str | torch.device, amp: bool | str, amp_dtype: str | torch.dtype, monai_dtypes: tuple) -> tuple:
    """(autocast dtype or None, whether MONAI's own CUDA path applies it, MONAI's amp_kwargs)."""
    dtype = resolve_amp_dtype(amp_dtype, device) if _as_flag(amp, "amp") else None
    by_monai = dtype in monai_dtypes and torch.device(device).type == "cuda"
    return dtype, by_monai, ({"dtype": dtype} if by_monai else None)


class MixedPrecisionTrainer(SupervisedTrainer):
    """MONAI's :class:`~monai.engines.SupervisedTrainer` with mixed precision on CUDA and CPU, and channels-last.

    * ``amp`` on CUDA with float16: MONAI's own path, ``torch.autocast("cuda", dtype=float16)`` and a GradScaler.
    * ``amp`` with bfloat16 (CPU, or CUDA if asked): the forward pass and nothing else runs under
      ``torch.autocast(device.type, dtype=bfloat16)`` (:class:`AutocastInferer`); the loss is computed on the float32
      cast of the prediction; no gradient scaling (bfloat16 has float32's range).

    Args:
        amp: mixed precision on or off; a bool or the strings ``"true"``/``"false"`` of the command line; ``"auto"``:
            the fastest the device supports (:mod:`engines.auto_precision`), logged with its reason.
        amp_dtype: ``"auto"`` (float16 on CUDA, bfloat16 on CPU), ``"float16"`` (CUDA only) or ``"bfloat16"``.
        channels_last: store weights and run convolutions in channels-last order (:func:`to_channels_last`);
            ``"auto"``: where the device is fast in it (with ``amp: auto``'s rule).
        kwargs: the keyword arguments of ``SupervisedTrainer`` (device, max_epochs, train_data_loader, network,
            optimizer, loss_function, ...); ``amp_kwargs`` is derived from ``amp_dtype`` and not accepted.
    """

    def __init__(
        self, amp: bool | str = False, amp_dtype: str | torch.dtype = "auto", channels_last: bool | str = False, **kwargs
    ) -> None:
        if "amp_kwargs" in kwargs:
            raise ValueError("MixedPrecisionTrainer sets amp_kwargs from amp_dtype; do not pass amp_kwargs.")
        amp, amp_dtype, channels_last = resolve_auto(kwargs["device"], amp, amp_dtype, channels_last)
        dtype, monai_amp, amp_kwargs = _plan(kwargs["device"], amp, amp_dtype, monai_dtypes=(torch.float16,))
        super().__init__(amp=monai_amp, amp_kwargs=amp_kwargs, **kwargs)
        self.amp_dtype = dtype
        self.channels_last = _as_flag(channels_last, "channels_last")
        to_channels_last(self.network, self.channels_last)
        if self.amp_dtype is not None and not monai_amp:
            self.inferer = AutocastInferer(self.inferer, torch.device(kwargs["device"]).type, self.amp_dtype)


class MixedPrecisionEvaluator(SupervisedEvaluator):
    """MONAI's :class:`~monai.engines.SupervisedEvaluator` with mixed precision on CUDA and CPU, and channels-last.

    On CUDA MONAI's own ``torch.autocast("cuda", dtype=...)`` is used; elsewhere the inferer is wrapped by
    :class:`AutocastInferer` (bfloat16). Predictions reach post-processing and metrics as float32 on CPU.

    With ``fuse`` each run infers with a copy of the network made when the run starts, after the handlers that
    load a checkpoint (:func:`networks.fusion.fuse_for_inference`: batch norm folded into its convolution,
    activations in place); ``engine.network`` is that copy during the run and the trained network again after it,
    so training, checkpoints and optimisers never see the copy. Under ``DistributedDataParallel`` the buffers (batch
    norm statistics) are first broadcast from rank 0, as the wrapper's forward does.

    Args:
        amp: mixed precision on or off; a bool or the strings ``"true"``/``"false"`` of the command line; ``"auto"``:
            the fastest the device supports (:mod:`engines.auto_precision`), logged with its reason.
        amp_dtype: ``"auto"`` (float16 on CUDA, bfloat16 on CPU), ``"float16"`` (CUDA only) or ``"bfloat16"``.
        channels_last: store weights and run convolutions in channels-last order (:func:`to_channels_last`);
            ``"auto"``: where the device is fast in it (with ``amp: auto``'s rule).
        fuse: infer with a fused copy of the network (above); False runs the network as given.
        kwargs: the keyword arguments of ``SupervisedEvaluator`` (device, val_data_loader, network, inferer, ...);
            ``amp_kwargs`` is derived from ``amp_dtype`` and not accepted.
    """

    def __init__(
        self,
        amp: bool | str = False,
        amp_dtype: str | torch.dtype = "auto",
        channels_last: bool | str = False,
        fuse: bool | str = True,
        **kwargs,
    ) -> None:
        if "amp_kwargs" in kwargs:
            raise ValueError("MixedPrecisionEvaluator sets amp_kwargs from amp_dtype; do not pass amp_kwargs.")
        amp, amp_dtype, channels_last = resolve_auto(kwargs["device"], amp, amp_dtype, channels_last)
        dtype, monai_amp, amp_kwargs = _plan(kwargs["device"], amp, amp_dtype, monai_dtypes=(torch.float16, torch.bfloat16))
        super().__init__(amp=monai_amp, amp_kwargs=amp_kwargs, **kwargs)
        self.amp_dtype = dtype
        self.channels_last = _as_flag(channels_last, "channels_last")
        to_channels_last(self.network, self.channels_last)
        if self.amp_dtype is not None and not monai_amp:
            self.inferer = AutocastInferer(self.inferer, torch.device(kwargs["device"]).type, self.amp_dtype)
        self.fuse = _as_flag(fuse, "fuse")
        self._trained: torch.nn.Module | None = None
        if self.fuse:  # after the handlers given (a CheckpointLoader loads the weights at STARTED first)
            self.add_event_handler(Events.STARTED, self._fuse)

    def inference_network(self, network: torch.nn.Module | None = None) -> torch.nn.Module:
        """The module a run infers with for ``network`` (default: ``self.network``): with ``fuse`` a fused copy in
        this evaluator's memory layout, else ``network`` itself."""
        network = self.network if network is None else network
        if not self.fuse:
            return network
        return to_channels_last(fuse_for_inference(network)[0], self.channels_last)

    def _fuse(self, engine) -> None:
        self._trained = ddp = self.network
        if isinstance(ddp, torch.nn.parallel.DistributedDataParallel) and ddp.broadcast_buffers:
            # what the wrapper's own forward would do: every rank validates with rank 0's batch-norm statistics
            for buffer in ddp.module.buffers():
                torch.distributed.broadcast(buffer, src=0, group=ddp.process_group)
        self.network = self.inference_network(ddp)

    def run(self, *args: Any, **kwargs: Any) -> None:
        """``SupervisedEvaluator.run``; the trained network is ``self.network`` again afterwards (also on errors)."""
        try:
            super().run(*args, **kwargs)
        finally:
            if self._trained is not None:
                self.network, self._trained = self._trained, None
