"""What the repository ships: its bundles, each described once (workflows -> config files, base, data format), for
sharing, experiments, scripts and tests."""

from catalog.bundles import (
    GENERIC,
    WORKFLOWS,
    BundleError,
    BundleSpec,
    bundle,
    bundle_names,
    config_files,
    generic_file,
)

__all__ = ["GENERIC", "WORKFLOWS", "BundleError", "BundleSpec", "bundle", "bundle_names", "config_files", "generic_file"]
