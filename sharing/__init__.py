"""Sharing bundles: package a bundle as a self-contained archive (configs with the shared YAML merged in, the code
packages it imports, weights, docs, LICENSE, sha256 of every file and a code manifest in metadata.json), sign it
(Ed25519), and verify a received one without running it (safe unpacking, signature, hashes, its code compared with
ours, an audit by object of the code its configs would run, logging.conf and weights audits, then the network's
input/output contract on our own code)."""

from sharing.audit import OUR_PACKAGES, TRUSTED_ROOTS, Entry, audit_config
from sharing.configs import bundle_config_files, flatten_config
from sharing.hashing import check_hashes, hash_files, sha256_file
from sharing.manifest import code_manifest, compare_code
from sharing.package import package_bundle
from sharing.safe_extract import UnsafeArchive, safe_extract
from sharing.signing import check_signature, make_key_pair, sign_bundle
from sharing.verify import verify_bundle

__all__ = [
    "OUR_PACKAGES", "TRUSTED_ROOTS", "Entry", "audit_config", "bundle_config_files", "flatten_config",
    "check_hashes", "hash_files", "sha256_file", "code_manifest", "compare_code", "package_bundle", "UnsafeArchive",
    "safe_extract", "check_signature", "make_key_pair", "sign_bundle", "verify_bundle",
]  # fmt: skip
