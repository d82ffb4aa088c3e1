"""logging.conf of a received bundle: only stream handlers to stdout/stderr with literal arguments."""

from __future__ import annotations

import pytest

from sharing.configs import ROOT
from sharing.logging_audit import audit_logging_conf

CONF = (ROOT / "bundles" / "unet" / "configs" / "logging.conf").read_text()


def test_our_logging_conf_and_stderr_pass(tmp_path):
    for text in (CONF, CONF.replace("args=(sys.stdout,)", "args=( sys.stderr , )")):
        (tmp_path / "logging.conf").write_text(text)
        assert audit_logging_conf(tmp_path / "logging.conf") == []


@pytest.mark.parametrize(
    "old, new, where, problem",
    [
        ("class=StreamHandler", "class=logging.FileHandler", "[handler_consoleHandler] class", "'logging.FileHandler'"),
        ("args=(sys.stdout,)", "args=(open('x', 'w'),)", "[handler_consoleHandler] args", "only (sys.stdout,)"),
        ("args=(sys.stdout,)", "args=(sys.stdout,)\nkwargs={'x': 1}", "[handler_consoleHandler] kwargs", "kwargs"),
        ("args=(sys.stdout,)", "args=(%(x)s,)", "[handler_consoleHandler] args", "only (sys.stdout,)"),
        ("[formatter_fullFormatter]", "[formatter_fullFormatter]\nclass=os.system", "[formatter_fullFormatter] class",
         "only logging.Formatter"),
        ("[loggers]", "[DEFAULT]\nx=1\n[loggers]", "[DEFAULT]", "interpolated"),
    ],
)  # fmt: skip
def test_hostile_entries_are_named(tmp_path, old, new, where, problem):
    (tmp_path / "logging.conf").write_text(CONF.replace(old, new))
    found = audit_logging_conf(tmp_path / "logging.conf")
    assert any(w == where and problem in p for w, p in found), found
