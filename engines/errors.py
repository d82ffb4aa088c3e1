"""End a run that fails on one of our errors with that error's message, not with MONAI's resolver traceback.

``python -m monai.bundle run`` evaluates every config expression inside MONAI's resolver, which wraps an exception
in ``RuntimeError: Failed to evaluate ConfigExpression ...`` (and transforms wrap it in ``applying transform ...``):
without this module the last lines a user sees are MONAI's, and our message (naming the file, saying what to do)
sits somewhere in the middle of a 50-300 line traceback.

:func:`install_excepthook` (called when :mod:`engines` is imported, which every bundle does) replaces
``sys.excepthook``: when the uncaught exception, or one in its chain (``__cause__`` / ``__context__``, and the text
of an exception re-raised from a DataLoader worker), is a *user-facing* error, it prints::

    ERROR: <the error's message>
    (full traceback in <file>; set UNET_TRACEBACK=1 to print it here instead)

and writes the full traceback to ``<output folder>/traceback.log`` (the folder that :func:`engines.check_outputs`
accepted, see :func:`set_log_folder`), or to a file in the system's temporary folder when no output folder is known
or it cannot be written. Every other exception keeps Python's default behaviour, and ``UNET_TRACEBACK=1`` restores
the full traceback for ours too (it is still written to the log).

User-facing errors are the subclasses of :class:`UserFacingError` and the classes registered with
:func:`register_user_error` (by class or by dotted name, so that a module need not import this one):
:class:`~data.errors.DatasetError`, :class:`~engines.outputs.OutputFolderError`,
:class:`~engines.nonfinite.NonFiniteLossError`, :class:`~engines.preflight.PreflightError`,
:class:`~engines.checkpoint.CheckpointWriteError`, :class:`~engines.checkpoint.FlagError`,
:class:`~experiments.matrix.MatrixError`.
"""

from __future__ import annotations

import abc
import datetime
import os
import re
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

__all__ = [
    "TRACEBACK_ENV",
    "TRACEBACK_FILE",
    "UserFacingError",
    "find_user_error",
    "install_excepthook",
    "is_user_error",
    "register_user_error",
    "report_user_error",
    "set_log_folder",
    "user_error_message",
]

TRACEBACK_ENV = "UNET_TRACEBACK"  # set to 1 (true, yes) to print the full traceback of our errors too
TRACEBACK_FILE = "traceback.log"  # name of the full traceback in the run's output folder

# classes registered by dotted name (module.QualName): their modules need not be imported to be recognised
_REGISTERED: set[str] = {"data.errors.DatasetError", "experiments.matrix.MatrixError", "engines.run_folder.RunFolderError"}
_WORKER_TRACE = "Original Traceback (most recent call last):"  # torch's text of an error raised in a worker
_state: dict = {"log_folder": None, "previous_hook": None}


class UserFacingError(Exception, metaclass=abc.ABCMeta):
    """Base (marker) of the errors whose message is all a user needs: it names the file and says what to do.

    Subclass it next to the error's usual base, e.g. ``class OutputFolderError(UserFacingError, RuntimeError)``;
    errors that cannot derive from it are registered with :func:`register_user_error`.
    """


def _dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def register_user_error(error: type[BaseException] | str) -> None:
    """Treat ``error`` (a class, or its dotted name ``package.module.ClassName``) and its subclasses as user-facing.

    Args:
        error: the exception class or its dotted name.

    Raises:
        TypeError: ``error`` is neither an exception class nor a string.
    """
    if isinstance(error, str):
        _REGISTERED.add(error)
    elif isinstance(error, type) and issubclass(error, BaseException):
        _REGISTERED.add(_dotted(error))
    else:
        raise TypeError(f"register_user_error takes an exception class or a dotted class name, got {error!r}.")


def _user_error_names() -> set[str]:
    """Dotted names of every known user-facing class (registered ones and the subclasses of the marker)."""
    names, todo = set(_REGISTERED), list(UserFacingError.__subclasses__())
    while todo:
        cls = todo.pop()
        names.add(_dotted(cls))
        todo.extend(cls.__subclasses__())
    return names


def is_user_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a user-facing error (see the module's description)."""
    return isinstance(exc, UserFacingError) or any(_dotted(cls) in _REGISTERED for cls in type(exc).__mro__)


def _worker_message(text: str) -> str | None:
    """The message of a user-facing error inside the text of a traceback (an error re-raised from a DataLoader
    worker carries the worker's traceback as text): from ``package.module.ErrorName: `` to the next blank line."""
    names = "|".join(re.escape(n) for n in sorted(_user_error_names(), key=len, reverse=True))
    matches = list(re.finditer(rf"^(?:{names}): (.*?)(?=\n\s*\n|\Z)", text, flags=re.M | re.S))
    return matches[-1].group(1).strip() if matches else None


def find_user_error(exc: BaseException) -> BaseException | None:
    """The outermost user-facing error in the chain of ``exc`` (itself, then its ``__cause__``, or its
    ``__context__`` unless suppressed, as Python's traceback shows them), or None.

    Args:
        exc: the exception that ended the program.

    Returns:
        The user-facing error, or an exception re-raised from a DataLoader worker whose text holds one, or None.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if is_user_error(exc) or (_WORKER_TRACE in str(exc) and _worker_message(str(exc)) is not None):
            return exc
        exc = exc.__cause__ if exc.__cause__ is not None else (None if exc.__suppress_context__ else exc.__context__)
    return None


def user_error_message(exc: BaseException) -> str:
    """The message to show for a user-facing error ``exc`` (the worker's error message, for a re-raised one)."""
    text = str(exc)
    if _WORKER_TRACE in text:
        return _worker_message(text) or text
    return text


def set_log_folder(folder: str | os.PathLike | None) -> None:
    """Write the full traceback of a user-facing error to ``<folder>/traceback.log`` (None: a temporary file).

    :func:`engines.check_outputs` calls it with the run's output folder once the folder is accepted.
    """
    _state["log_folder"] = None if folder is None else Path(folder)


def _write_log(text: str) -> Path | None:
    """Write ``text`` to the run's ``traceback.log``, else to a new file in the temporary folder; the path or None."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    candidates = []
    if _state["log_folder"] is not None:
        candidates.append(_state["log_folder"] / TRACEBACK_FILE)
    candidates.append(Path(tempfile.gettempdir()) / f"unet-traceback-{stamp}-{os.getpid()}.log")
    for path in candidates:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            return path
        except OSError:
            continue
    return None


def _close_progress_bars() -> None:
    """Close the tqdm progress bars still open (Ignite's ``ProgressBar`` of an interrupted epoch)."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", None) or []):
        try:
            bar.close()
        except Exception:  # noqa: BLE001 - a bar that cannot close must not hide the error
            pass


def _wants_traceback() -> bool:
    return os.environ.get(TRACEBACK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def report_user_error(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None, stream=None
) -> bool:
    """Report an uncaught exception the way :func:`install_excepthook`'s hook does.

    Args:
        exc_type, exc, tb: as given to ``sys.excepthook``.
        stream: where to print (default ``sys.stderr``).

    Returns:
        True when ``exc`` was (or chained) a user-facing error and has been reported; False otherwise (nothing
        printed or written: the caller shows it as usual).
    """
    found = find_user_error(exc)
    if found is None:
        return False
    stream = sys.stderr if stream is None else stream
    _close_progress_bars()  # a bar left open would redraw itself at exit, after the message
    full = "".join(traceback.format_exception(exc_type, exc, tb))
    header = f"{datetime.datetime.now().isoformat(timespec='seconds')} {' '.join(sys.argv)}\n"
    log = _write_log(header + full)
    if _wants_traceback():
        print(full, end="", file=stream)
        if log is not None:
            print(f"(full traceback also in {log})", file=stream)
    else:
        where = f"full traceback in {log}" if log is not None else "no file could be written for the traceback"
        print(f"ERROR: {user_error_message(found)}", file=stream)
        print(f"({where}; set {TRACEBACK_ENV}=1 to print it here instead)", file=stream)
    stream.flush()
    return True


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    try:
        if report_user_error(exc_type, exc, tb):
            return
    except Exception:  # never lose the original error because the short report failed
        pass
    (_state["previous_hook"] or sys.__excepthook__)(exc_type, exc, tb)


def install_excepthook() -> Callable:
    """Install the hook (once; later calls do nothing). Exceptions that are not user-facing go to the hook that
    was installed before.

    Returns:
        The hook now in ``sys.excepthook``.
    """
    if sys.excepthook is not _excepthook:
        _state["previous_hook"] = sys.excepthook
        sys.excepthook = _excepthook
    return sys.excepthook
