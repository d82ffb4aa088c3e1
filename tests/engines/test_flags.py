"""engines.flags.as_flag: the command line's strings as booleans, `auto` where an option allows it, one-line errors."""

from __future__ import annotations

import pytest

from engines.flags import FlagError, as_flag


@pytest.mark.parametrize("value, expected", [("false", False), ("Off", False), ("0", False), (" yes ", True), (1, True),
                                             (False, False)])  # fmt: skip
def test_strings_and_values(value, expected):
    assert as_flag(value, "resume") is expected


def test_auto_takes_the_given_default_only_where_allowed():
    assert as_flag("auto", "x", auto=True) is True and as_flag("AUTO", "x", auto=False) is False
    assert as_flag("false", "x", auto=True) is False
    with pytest.raises(FlagError, match=r"^--resume must be true or false, got 'auto'\.$"):
        as_flag("auto", "resume")


def test_error_names_the_nested_key_as_typed():
    with pytest.raises(FlagError, match=r"^--default_recipe#deep_supervision must be true, false or auto, got 'maybe'"):
        as_flag("maybe", "default_recipe::deep_supervision", auto=True)
