"""Ed25519 signatures of packaged bundles: make a key, sign, verify against trusted keys; refusals are named."""

from __future__ import annotations

import base64
import json
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from sharing.hashing import HASH_KEY, hash_files
from sharing.signing import SIGNATURE_FILE, check_signature, make_key_pair, sign_bundle
from tests.sharing.tiny_bundle import cli, package_tiny_unet


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return package_tiny_unet(tmp_path_factory.mktemp("signing"))


@pytest.fixture
def keys(tmp_path) -> dict[str, Path]:
    """alice's key pair made with the CLI; her public key in a trusted folder; bob's key pair (not trusted)."""
    assert cli("make_signing_key").main([str(tmp_path / "keys" / "alice.key")]) == 0
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    shutil.copy(tmp_path / "keys" / "alice.pub", trusted)
    make_key_pair(tmp_path / "keys" / "bob.key")
    return {"alice": tmp_path / "keys" / "alice.key", "bob": tmp_path / "keys" / "bob.key", "trusted": trusted}


def test_key_pair_is_private_and_never_overwritten(keys, capsys):
    assert stat.S_IMODE(keys["alice"].stat().st_mode) == 0o600
    assert keys["alice"].with_suffix(".pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert cli("make_signing_key").main([str(keys["alice"])]) == 1
    assert f"FAIL {keys['alice']}: exists" in capsys.readouterr().err


def test_signed_archive_verifies_against_trusted_keys(archive, keys, tmp_path, capsys):
    signed = shutil.copy(archive, tmp_path / archive.name)
    assert cli("sign_bundle").main([str(signed), "--key", str(keys["alice"])]) == 0
    with zipfile.ZipFile(signed) as zf:
        assert f"unet/{SIGNATURE_FILE}" in zf.namelist()
    verify = cli("verify_bundle")
    args = [str(signed), "--no-net-check", "--trusted-keys", str(keys["trusted"])]
    assert verify.main([*args, "--extract-to", str(tmp_path / "a")]) == 0
    assert "OK   signature: configs/metadata.json signed by trusted key" in capsys.readouterr().out
    # signing again (by bob) replaces the signature: not trusted
    assert sign_bundle(signed, keys["bob"]).name == "signature.json"
    assert verify.main([*args, "--extract-to", str(tmp_path / "b")]) == 1
    assert "which is not among the trusted keys" in capsys.readouterr().err
    # without --trusted-keys the signature is not checked (origin unknown) and the bundle verifies
    assert verify.main([str(signed), "--no-net-check", "--extract-to", str(tmp_path / "c")]) == 0


def test_unsigned_archive_is_refused_with_trusted_keys(archive, keys, tmp_path, capsys):
    code = cli("verify_bundle").main([str(archive), "--no-net-check", "--trusted-keys", str(keys["trusted"]),
                                       "--extract-to", str(tmp_path)])  # fmt: skip
    assert code == 1
    assert f"FAIL {tmp_path / 'unet' / SIGNATURE_FILE}: missing: the bundle is not signed" in capsys.readouterr().err


def test_change_after_signing_is_refused_even_when_rehashed(archive, keys, tmp_path):
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path)
    bundle = tmp_path / "unet"
    sign_bundle(bundle, keys["alice"])
    assert check_signature(bundle, keys["trusted"])[0]
    with open(bundle / "configs" / "inference.yaml", "a") as f:
        f.write("\nextra: 1\n")
    meta_file = bundle / "configs" / "metadata.json"
    meta = json.loads(meta_file.read_text())
    meta[HASH_KEY] = hash_files(bundle, meta[HASH_KEY])
    meta_file.write_text(json.dumps(meta, indent=4))
    ok, message = check_signature(bundle, keys["trusted"])
    assert not ok and "does not match configs/metadata.json" in message
    # a forged record naming alice's key
    record = json.loads((bundle / SIGNATURE_FILE).read_text())
    record["signature"] = base64.b64encode(b"\0" * 64).decode()
    (bundle / SIGNATURE_FILE).write_text(json.dumps(record))
    assert "does not match" in check_signature(bundle, keys["trusted"])[1]
    assert "no Ed25519 public keys" in check_signature(bundle, tmp_path / "empty")[1]
