"""Audit a bundle's ``logging.conf`` before ``logging.config.fileConfig`` reads it.

``fileConfig`` imports each handler's and formatter's ``class=`` and ``eval``s ``args=``/``kwargs=``: a
``FileHandler`` appends to a file of the sender's choosing, a ``SocketHandler`` sends the logs away, and ``args``
may be any expression. Allowed: handlers of class ``StreamHandler`` (``logging.StreamHandler``) writing to
``sys.stdout`` or ``sys.stderr`` given literally (``args=(sys.stdout,)``), formatters of class ``logging.Formatter``
(or none), no ``kwargs``, and no ``%(...)s`` interpolation in ``class``/``args``.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

__all__ = ["STREAM_HANDLERS", "ALLOWED_ARGS", "audit_logging_conf"]

STREAM_HANDLERS = ("StreamHandler", "logging.StreamHandler")
ALLOWED_ARGS = ("()", "(sys.stdout,)", "(sys.stderr,)", "(sys.stdout)", "(sys.stderr)")
FORMATTERS = ("", "logging.Formatter")
_HANDLER_KEYS = {"class", "level", "formatter", "args"}
_FORMATTER_KEYS = {"format", "datefmt", "style", "class", "validate", "defaults"}


def audit_logging_conf(path: str | Path) -> list[tuple[str, str]]:
    """(``[section] key``, problem) of every entry outside the rules of the module docstring; empty when allowed."""
    path = Path(path)
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (configparser.Error, UnicodeDecodeError) as e:
        return [("", f"cannot be read: {e}")]
    out: list[tuple[str, str]] = []
    if parser.defaults():
        out.append(("[DEFAULT]", "defaults are interpolated into other values"))
    for section in parser.sections():
        items = dict(parser.items(section, raw=True))
        if section.startswith("handler_"):
            for key in sorted(set(items) - _HANDLER_KEYS):
                out.append((f"[{section}] {key}", f"key {key!r} is not allowed (kwargs are evaluated)"))
            cls = items.get("class", "").strip()
            if cls not in STREAM_HANDLERS:
                out.append((f"[{section}] class", f"handler class {cls!r}: only {' / '.join(STREAM_HANDLERS)}"))
            args = re.sub(r"\s+", "", items.get("args", "()"))
            if args not in ALLOWED_ARGS:
                out.append((f"[{section}] args", f"args {items.get('args')!r}: only (sys.stdout,) or (sys.stderr,)"))
        elif section.startswith("formatter_"):
            for key in sorted(set(items) - _FORMATTER_KEYS):
                out.append((f"[{section}] {key}", f"key {key!r} is not allowed"))
            cls = items.get("class", "").strip()
            if cls not in FORMATTERS:
                out.append((f"[{section}] class", f"formatter class {cls!r}: only logging.Formatter"))
            if "defaults" in items:
                out.append((f"[{section}] defaults", "defaults are evaluated"))
    return out
