"""Sharing bundles: package a bundle as a self-contained archive (configs with the shared YAML merged in, the code
packages it imports, weights, docs, LICENSE, sha256 of every file in metadata.json), and verify a received one
(hashes, metadata schema, an audit of the code its configs would run, the network's input/output contract)."""

from sharing.audit import OUR_PACKAGES, TRUSTED_ROOTS, Entry, audit_config
from sharing.configs import bundle_config_files, flatten_config
from sharing.hashing import check_hashes, hash_files, sha256_file
from sharing.package import package_bundle
from sharing.verify import verify_bundle

__all__ = [
    "OUR_PACKAGES", "TRUSTED_ROOTS", "Entry", "audit_config", "bundle_config_files", "flatten_config",
    "check_hashes", "hash_files", "sha256_file", "package_bundle", "verify_bundle",
]  # fmt: skip
