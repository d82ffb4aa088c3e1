"""True/false options as the command line gives them, and the one-line error of a bad value."""

from __future__ import annotations

from .errors import UserFacingError

__all__ = ["FlagError", "as_flag"]

_FLAGS = {"true": True, "yes": True, "1": True, "on": True, "false": False, "no": False, "0": False, "off": False}


class FlagError(UserFacingError, ValueError):
    """A true/false option given another value (``--resume maybe``)."""


def as_flag(value: bool | int | str, name: str) -> bool:
    """A boolean from a config or command-line value. ``python -m monai.bundle run --resume false`` passes the
    string ``"false"`` (Fire only converts ``True``/``False``), which plain ``bool()`` would take as true.

    Raises:
        FlagError: naming the option when ``value`` is a string other than true/false/yes/no/on/off/1/0.
    """
    if isinstance(value, str):
        if value.strip().lower() not in _FLAGS:
            raise FlagError(f"--{name} must be true or false, got {value!r}.")
        return _FLAGS[value.strip().lower()]
    return bool(value)
