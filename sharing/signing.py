"""Ed25519 signatures of packaged bundles: who packaged it (the sha256 of each file only prove it is unchanged).

A collaborator makes a key pair once (``make_key_pair``: ``<name>.key`` stays private, ``<name>.pub`` is sent to
the receivers), and signs each packaged archive (``sign_bundle``). The signature covers the exact bytes of
``configs/metadata.json``, which records the sha256 of every other file, so with the hash check it covers the
whole bundle. It is stored in the bundle as ``configs/signature.json``. The receiver keeps the public keys they
trust in one folder and verifies against it (``check_signature``; ``scripts/verify_bundle.py --trusted-keys DIR``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

__all__ = ["SIGNATURE_FILE", "make_key_pair", "key_id", "sign_bundle", "check_signature"]

SIGNATURE_FILE = "configs/signature.json"
SIGNED_FILE = "configs/metadata.json"
_FORMAT = "ed25519-bundle-v1"
_CONTEXT = b"unet-family bundle signature v1\n"  # a signature of this kind cannot be replayed for other data


def _serialization():
    from cryptography.hazmat.primitives import serialization

    return serialization


def key_id(public_key) -> str:
    """First 16 hex digits of the sha256 of the raw public key (names the key in signatures and messages)."""
    s = _serialization()
    raw = public_key.public_bytes(encoding=s.Encoding.Raw, format=s.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def make_key_pair(private_path: str | Path) -> tuple[Path, Path]:
    """Write a new Ed25519 private key (PEM, mode 0600) to ``private_path`` and its public key beside it with the
    suffix ``.pub``; returns both paths.

    Raises:
        FileExistsError: naming the file, rather than overwrite a key.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    s = _serialization()
    private_path = Path(private_path)
    public_path = private_path.with_suffix(".pub")
    for p in (private_path, public_path):
        if p.exists():
            raise FileExistsError(f"{p}: exists; not overwriting a key (choose another name)")
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption())
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public_path.write_bytes(key.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))
    return private_path, public_path


def _signature_record(metadata: bytes, private_path: Path) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = _serialization().load_pem_private_key(private_path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{private_path}: not an Ed25519 private key (make one with scripts/make_signing_key.py)")
    record = {
        "format": _FORMAT,
        "signed_file": SIGNED_FILE,
        "key_id": key_id(key.public_key()),
        "signature": base64.b64encode(key.sign(_CONTEXT + metadata)).decode(),
    }
    return (json.dumps(record, indent=4) + "\n").encode()


def sign_bundle(bundle: str | Path, private_key: str | Path) -> Path:
    """Sign a packaged bundle (``.zip``, rewritten with ``<name>/configs/signature.json`` added or replaced, or an
    unpacked folder); returns the signature's path (inside the archive: ``archive/<name>/configs/signature.json``).

    Raises:
        FileNotFoundError / ValueError: naming the bundle or key that is missing or unfit.
    """
    bundle, private_key = Path(bundle), Path(private_key)
    if not private_key.is_file():
        raise FileNotFoundError(f"{private_key}: no such private key")
    if bundle.is_dir():
        record = _signature_record((bundle / SIGNED_FILE).read_bytes(), private_key)
        (bundle / SIGNATURE_FILE).write_bytes(record)
        return bundle / SIGNATURE_FILE
    with zipfile.ZipFile(bundle) as zf:
        infos = zf.infolist()
        tops = {i.filename.split("/")[0] for i in infos}
        if len(tops) != 1:
            raise ValueError(f"{bundle}: expected one top folder, found {sorted(tops)}")
        top = tops.pop()
        try:
            metadata = zf.read(f"{top}/{SIGNED_FILE}")
        except KeyError:
            raise ValueError(f"{bundle}: no {top}/{SIGNED_FILE} (not a packaged bundle)") from None
        record = _signature_record(metadata, private_key)
        fd, tmp = tempfile.mkstemp(suffix=".zip", dir=bundle.parent)
        os.close(fd)
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as out:
            for info in infos:
                if info.filename != f"{top}/{SIGNATURE_FILE}":
                    out.writestr(info, zf.read(info))
            sig = zipfile.ZipInfo(f"{top}/{SIGNATURE_FILE}", date_time=infos[0].date_time)
            sig.external_attr = 0o644 << 16
            out.writestr(sig, record, compress_type=zipfile.ZIP_DEFLATED)
    shutil.move(tmp, bundle)
    return bundle / top / SIGNATURE_FILE


def _trusted_keys(trusted_dir: Path) -> dict[str, tuple[Path, object]]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    keys = {}
    for p in sorted(trusted_dir.glob("*")):
        if p.suffix not in (".pub", ".pem"):
            continue
        try:
            key = _serialization().load_pem_public_key(p.read_bytes())
        except ValueError:
            continue
        if isinstance(key, Ed25519PublicKey):
            keys[key_id(key)] = (p, key)
    return keys


def check_signature(bundle_dir: str | Path, trusted_dir: str | Path) -> tuple[bool, str]:
    """Whether ``configs/signature.json`` is a valid signature of ``configs/metadata.json`` by one of the Ed25519
    public keys (``*.pub``/``*.pem``) in ``trusted_dir``; the message names the key or says why not."""
    from cryptography.exceptions import InvalidSignature

    bundle_dir, trusted_dir = Path(bundle_dir), Path(trusted_dir)
    sig_file = bundle_dir / SIGNATURE_FILE
    keys = _trusted_keys(trusted_dir) if trusted_dir.is_dir() else {}
    if not keys:
        return False, f"{trusted_dir}: no Ed25519 public keys (*.pub) to verify against"
    if not sig_file.is_file():
        return False, f"{sig_file}: missing: the bundle is not signed"
    try:
        record = json.loads(sig_file.read_text(encoding="utf-8"))
        signature = base64.b64decode(record["signature"], validate=True)
        kid = str(record["key_id"])
        if record.get("format") != _FORMAT or record.get("signed_file") != SIGNED_FILE:
            raise ValueError(f"format {record.get('format')!r} / signed_file {record.get('signed_file')!r}")
    except (ValueError, KeyError, TypeError) as e:
        return False, f"{sig_file}: unreadable signature ({e})"
    if kid not in keys:
        return False, f"{sig_file}: signed by key {kid}, which is not among the trusted keys in {trusted_dir}"
    path, key = keys[kid]
    try:
        key.verify(signature, _CONTEXT + (bundle_dir / SIGNED_FILE).read_bytes())
    except InvalidSignature:
        return False, f"{sig_file}: the signature does not match {SIGNED_FILE} (changed after signing, or forged)"
    return True, f"signature: configs/metadata.json signed by trusted key {kid} ({path.name})"
