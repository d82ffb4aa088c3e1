"""What the repository ships: its bundles, each described once (workflows -> config files, base, data format), for
sharing, experiments, scripts and tests."""

from catalog.bundles import WORKFLOWS, BundleError, BundleSpec, bundle, bundle_names, config_files

__all__ = ["WORKFLOWS", "BundleError", "BundleSpec", "bundle", "bundle_names", "config_files"]
