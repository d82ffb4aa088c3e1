"""Check bundle ``configs/metadata.json`` files against the MONAI bundle metadata schema, offline.

The schema is the repository's copy of MONAI's ``meta_schema_20240725.json``
(``bundles/common/schema/metadata_schema.json``), so nothing is downloaded. Every error is reported with the file
and the field it concerns, e.g.::

    FAIL bundles/unet/configs/metadata.json: version: 'version' is a required property

Usage (from anywhere)::

    python scripts/verify_metadata.py                        # every bundles/*/configs/metadata.json
    python scripts/verify_metadata.py bundles/               # same, explicit folder of bundles
    python scripts/verify_metadata.py bundles/unet           # one bundle folder
    python scripts/verify_metadata.py a/metadata.json b/metadata.json
    python scripts/verify_metadata.py --stock                # also run MONAI's own `verify_metadata` on each file

Exit status 0 when every file passes, 1 when any check fails.

Besides the schema, one MONAI-specific check: ``optional_packages_version`` is a deprecated name in MONAI >= 1.4
(``monai.bundle.utils.DEPRECATED_ID_MAPPING``); when a bundle runs, MONAI renames it to
``required_packages_version``, overwriting the real one. So a metadata file must not contain it.

``--stock`` runs ``monai.bundle.verify_metadata(meta_file=..., filepath=<schema>)`` too. It is offline because
MONAI's ``download_url`` skips the download when ``filepath`` already exists (this script checks that it does).
It is the same command as ``python -m monai.bundle verify_metadata --meta_file F --filepath SCHEMA``, which stops
at the first error and does not name the file.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCHEMA = ROOT / "bundles" / "common" / "schema" / "metadata_schema.json"
DEFAULT_BUNDLES = ROOT / "bundles"
# monai.bundle.utils.DEPRECATED_ID_MAPPING in MONAI 1.6.1 (copied so that this check does not import MONAI)
DEPRECATED_KEYS = {"optional_packages_version": "required_packages_version"}
_MAX_MESSAGE = 300


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(f"duplicate key {key!r}")
        out[key] = value
    return out


def load_json(path: Path) -> Any:
    """Load a JSON file, rejecting duplicate keys (``json`` would silently keep the last one)."""
    with open(path, encoding="utf-8") as f:
        return json.load(f, object_pairs_hook=_no_duplicates)


def find_metadata_files(paths: Sequence[str | Path]) -> list[Path]:
    """Expand each path: a metadata file as is; a bundle folder to its ``configs/metadata.json``; any other folder to
    every ``*/configs/metadata.json`` below it (a folder of bundles). Raises ``FileNotFoundError`` naming the path
    when nothing is found."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            found.append(p)
        elif p.is_dir():
            if (p / "configs" / "metadata.json").is_file():
                found.append(p / "configs" / "metadata.json")
            elif (p / "metadata.json").is_file():
                found.append(p / "metadata.json")
            else:
                below = sorted(p.glob("*/configs/metadata.json"))
                if not below:
                    raise FileNotFoundError(f"{p}: no metadata.json, configs/metadata.json or */configs/metadata.json")
                found.extend(below)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return list(dict.fromkeys(found))  # de-duplicated, order kept


def _field(path: Sequence[Any]) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _describe(error: Any) -> list[tuple[str, str]]:
    """(field, message) pairs of a jsonschema ValidationError. For anyOf/oneOf (a network input/output may be a
    number, string, boolean or tensor description) report the causes inside the branch that matched the value's
    type, e.g. ``num_channels: '4' is not of type 'integer'``, instead of "... is not of type 'number'"."""
    causes = [e for e in (error.context or []) if e.validator != "type" or len(e.relative_path) > 0]
    if not causes and error.context:
        from jsonschema.exceptions import best_match

        causes = [best_match(error.context)]
    out = []
    for err in causes or [error]:
        path = list(err.absolute_path)
        if err.validator == "required":
            m = re.match(r"^'(.+)' is a required property$", err.message)
            if m:
                path.append(m.group(1))
        out.append((_field(path), _shorten(err.message)))
    return out


def load_schema(schema_path: str | Path = DEFAULT_SCHEMA) -> Any:
    """Load the schema and check it is itself a valid JSON schema; returns a jsonschema validator."""
    from jsonschema.validators import validator_for

    schema = load_json(Path(schema_path))
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def check_file(meta_file: str | Path, schema_path: str | Path = DEFAULT_SCHEMA, validator: Any = None) -> list[str]:
    """Return the errors of one metadata file as ``"<file>: <field>: <message>"`` strings (empty when it passes)."""
    meta_file = Path(meta_file)
    validator = validator if validator is not None else load_schema(schema_path)
    try:
        metadata = load_json(meta_file)
    except (OSError, ValueError) as e:  # JSONDecodeError and _DuplicateKeyError are ValueErrors
        return [f"{meta_file}: <file>: cannot read JSON: {e}"]
    errors = []
    for err in sorted(validator.iter_errors(metadata), key=lambda e: [str(p) for p in e.absolute_path]):
        for field, message in _describe(err):
            errors.append(f"{meta_file}: {field}: {message}")
    # `network_data_format` is checked twice by the MONAI schema (by name and by the `*_data_format` pattern)
    errors = list(dict.fromkeys(errors))
    if isinstance(metadata, dict):
        for old, new in DEPRECATED_KEYS.items():
            if old in metadata:
                errors.append(
                    f"{meta_file}: {old}: deprecated in MONAI, which renames it to '{new}' when the bundle runs "
                    f"(overwriting '{new}'); remove it"
                )
    return errors


def check_stock(meta_file: str | Path, schema_path: str | Path = DEFAULT_SCHEMA) -> list[str]:
    """Run MONAI's own ``verify_metadata`` with the local schema as ``filepath`` (no download: the file exists)."""
    schema_path = Path(schema_path)
    if not schema_path.is_file():  # otherwise MONAI would try to download the schema URL to this path
        return [f"{meta_file}: <schema>: {schema_path} does not exist; refusing to let MONAI download it"]
    from monai.bundle import verify_metadata

    try:
        verify_metadata(meta_file=str(meta_file), filepath=str(schema_path))
    except Exception as e:  # MONAI raises ValueError with the first validation error only
        return [f"{meta_file}: <monai verify_metadata>: {' '.join(str(e).split())}"]
    return []


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "paths", nargs="*", help="metadata files, bundle folders or folders of bundles (default: the repo's bundles/)"
    )
    parser.add_argument("--schema", default=str(DEFAULT_SCHEMA), help="JSON schema file (default: %(default)s)")
    parser.add_argument("--stock", action="store_true", help="also run monai.bundle.verify_metadata on each file")
    args = parser.parse_args(argv)

    try:
        files = find_metadata_files(args.paths or [DEFAULT_BUNDLES])
        validator = load_schema(args.schema)
    except Exception as e:  # missing path, unreadable or invalid schema
        print(f"FAIL {e}", file=sys.stderr)
        return 1

    failed = 0
    for f in files:
        errors = check_file(f, args.schema, validator)
        if args.stock and not errors:
            errors = check_stock(f, args.schema)
        if errors:
            failed += 1
            for line in errors:
                print(f"FAIL {line}", file=sys.stderr)
        else:
            print(f"OK   {f}")
    if failed:
        print(f"{failed} of {len(files)} metadata file(s) failed against {args.schema}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
