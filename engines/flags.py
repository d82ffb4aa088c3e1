"""True/false options as the command line gives them, and the one-line error of a bad value."""

from __future__ import annotations

from .errors import UserFacingError

__all__ = ["FlagError", "as_flag"]

_FLAGS = {"true": True, "yes": True, "1": True, "on": True, "false": False, "no": False, "0": False, "off": False}


class FlagError(UserFacingError, ValueError):
    """A true/false option given another value (``--resume maybe``)."""


def as_flag(value: bool | int | str, name: str, auto: bool | None = None) -> bool:
    """A boolean from a config or command-line value. ``python -m monai.bundle run --resume false`` passes the
    string ``"false"`` (Fire only converts ``True``/``False``), which plain ``bool()`` would take as true.

    Args:
        value: the option's value.
        name: the option's key, for the error message.
        auto: the value ``"auto"`` stands for (the option then accepts ``auto``); None: ``auto`` is an error.

    Raises:
        FlagError: naming the option when ``value`` is a string other than true/false/yes/no/on/off/1/0 (or auto).
    """
    if isinstance(value, str):
        word = value.strip().lower()
        if word == "auto" and auto is not None:
            return bool(auto)
        if word not in _FLAGS:
            choices = "true, false or auto" if auto is not None else "true or false"
            # MONAI's parser turns a nested key's "#" into "::" inside expressions, names included
            raise FlagError(f"--{name.replace('::', '#')} must be {choices}, got {value!r}.")
        return _FLAGS[word]
    return bool(value)
