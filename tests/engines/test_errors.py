"""engines.errors: which exceptions are user-facing, what is printed, where the full traceback goes."""

from __future__ import annotations

import io
import sys

import pytest

from data.errors import DatasetError
from engines import NonFiniteLossError, OutputFolderError, PreflightError
from engines import errors as errors_module
from engines.errors import (
    TRACEBACK_ENV,
    find_user_error,
    is_user_error,
    register_user_error,
    report_user_error,
    set_log_folder,
    user_error_message,
)


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001
        return caught


def _wrapped(inner: BaseException, outer: str = "Failed to evaluate ConfigExpression: ...") -> BaseException:
    try:
        try:
            raise inner
        except BaseException as err:  # noqa: BLE001
            raise RuntimeError(outer) from err
    except RuntimeError as caught:
        return caught


@pytest.fixture(autouse=True)
def _no_log_folder(monkeypatch):
    monkeypatch.delenv(TRACEBACK_ENV, raising=False)
    set_log_folder(None)
    yield
    set_log_folder(None)


def test_our_errors_are_user_facing():
    for error in (DatasetError("x"), OutputFolderError("x"), NonFiniteLossError("x"), PreflightError("x")):
        assert is_user_error(error)
    assert not is_user_error(ValueError("x")) and not is_user_error(RuntimeError("x"))


def test_found_through_monai_wrappers_and_not_through_suppressed_context():
    inner = DatasetError("/d/a.nii.gz: truncated")
    twice = _wrapped(_wrapped(inner, "applying transform <LoadImaged>"))
    assert find_user_error(twice) is inner
    try:
        try:
            raise DatasetError("hidden")
        except DatasetError:
            raise KeyError("k") from None
    except KeyError as err:
        assert find_user_error(err) is None


def test_error_text_from_a_dataloader_worker():
    text = (
        "Caught RuntimeError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
        '  File "x.py", line 1, in f\ndata.errors.DatasetError: 2 bad files:\n  /d/a.nii.gz: empty\n  /d/b.nii.gz: x\n'
        "\nThe above exception was the direct cause of the following exception:\n\nTraceback (most recent call last):"
        "\nRuntimeError: applying transform <LoadImaged>\n"
    )
    err = RuntimeError(text)
    assert find_user_error(err) is err
    assert user_error_message(err) == "2 bad files:\n  /d/a.nii.gz: empty\n  /d/b.nii.gz: x"


def test_registered_by_name():
    class LocalError(Exception):
        pass

    assert not is_user_error(LocalError("x"))
    register_user_error(f"{LocalError.__module__}.{LocalError.__qualname__}")
    assert is_user_error(LocalError("x"))
    with pytest.raises(TypeError):
        register_user_error(42)


def test_report_writes_the_log_to_the_run_folder_else_to_the_temporary_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(errors_module.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    exc = _wrapped(OutputFolderError("output folder /o already holds results. Use --overwrite true."))
    out = io.StringIO()
    set_log_folder(tmp_path / "run")
    assert report_user_error(type(exc), exc, exc.__traceback__, stream=out)
    lines = out.getvalue().splitlines()
    assert lines == [
        "ERROR: output folder /o already holds results. Use --overwrite true.",
        f"(full traceback in {tmp_path / 'run' / 'traceback.log'}; set UNET_TRACEBACK=1 to print it here instead)",
    ]
    assert "Failed to evaluate ConfigExpression" in (tmp_path / "run" / "traceback.log").read_text()
    # an output "folder" that cannot be created (a file is in the way): the temporary folder
    (tmp_path / "blocked").write_text("")
    set_log_folder(tmp_path / "blocked" / "run")
    out = io.StringIO()
    report_user_error(type(exc), exc, exc.__traceback__, stream=out)
    logs = list((tmp_path / "tmp").glob("unet-traceback-*.log"))
    assert len(logs) == 1 and str(logs[0]) in out.getvalue()
    # UNET_TRACEBACK=1: the full traceback is printed
    monkeypatch.setenv(TRACEBACK_ENV, "1")
    out = io.StringIO()
    report_user_error(type(exc), exc, exc.__traceback__, stream=out)
    assert out.getvalue().startswith("Traceback (most recent call last)") and "ERROR:" not in out.getvalue()
    # not ours: nothing printed, the caller shows it
    other = _raised(KeyError("k"))
    out = io.StringIO()
    assert not report_user_error(KeyError, other, other.__traceback__, stream=out) and out.getvalue() == ""


def test_install_is_idempotent_and_keeps_the_previous_hook(monkeypatch):
    seen = []
    monkeypatch.setitem(errors_module._state, "previous_hook", errors_module._state["previous_hook"])  # restored after
    monkeypatch.setattr(sys, "excepthook", lambda *args: seen.append(args[0]))
    previous = sys.excepthook
    hook = errors_module.install_excepthook()
    assert errors_module.install_excepthook() is hook and errors_module._state["previous_hook"] is previous
    other = _raised(KeyError("k"))
    hook(KeyError, other, other.__traceback__)
    assert seen == [KeyError]
