"""Make an Ed25519 key pair to sign packaged bundles (sharing/signing.py).

Usage::

    python scripts/make_signing_key.py ~/.bundle_keys/alice.key     # writes alice.key (private) and alice.pub

Keep ``alice.key`` private (mode 0600, never in a bundle or repository); send ``alice.pub`` to the receivers, who
put it in the folder they pass as ``--trusted-keys``. Exit status 1 when a key file exists already.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sharing.signing import key_id, make_key_pair  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("private_key", help="path of the private key to write; the public key gets the suffix .pub")
    args = parser.parse_args(argv)
    try:
        private, public = make_key_pair(args.private_key)
    except FileExistsError as e:
        print(f"FAIL {e}", file=sys.stderr)
        return 1
    from cryptography.hazmat.primitives import serialization

    kid = key_id(serialization.load_pem_public_key(public.read_bytes()))
    print(f"private key: {private} (keep it private)\npublic key:  {public} (send it; key id {kid})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
