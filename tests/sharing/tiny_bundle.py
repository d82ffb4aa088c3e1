"""What the sharing tests share: a packaged tiny unet bundle and the scripts' ``main`` functions."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import torch

from sharing.configs import ROOT
from sharing.package import package_bundle

TINY = {"target_params": 0, "features": 4}  # the unet bundle at width 4: packaged and verified in seconds


def cli(name: str) -> ModuleType:
    """The module of ``scripts/<name>.py`` (its ``main(argv)`` is the command line)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(ROOT / "scripts"))


def package_tiny_unet(out: Path) -> Path:
    """``bundles/unet`` at :data:`TINY` with random weights, packaged into ``out/dist``; returns the archive."""
    from monai.bundle import ConfigParser

    from sharing.configs import bundle_config_files

    parser = ConfigParser()
    parser.read_config([str(f) for f in bundle_config_files("bundles/unet")["inference"]])
    parser.update(TINY)
    torch.save(parser.get_parsed_content("network_def").state_dict(), out / "model.pt")
    return package_bundle("bundles/unet", out / "dist", weights=out / "model.pt", overrides=TINY)
