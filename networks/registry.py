"""Name → factory registries for the swappable slots of the modular U-Net.

Each slot (ConvBlock, SkipConn, DownOp, UpOp) has one :class:`SlotRegistry`. A bundle names a module
by its registered string (``conv_block: nasnet_normal``); an unknown name fails with the list of the
valid ones, so a typo in a YAML file is a one-line fix.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

__all__ = ["SlotRegistry", "takes_argument", "CONV_BLOCKS", "SKIPS", "DOWN_OPS", "UP_OPS"]


class SlotRegistry:
    """Registry of module factories for one slot of the modular U-Net.

    Args:
        slot: human-readable slot name used in error messages, e.g. ``"ConvBlock"``.
    """

    def __init__(self, slot: str) -> None:
        self.slot = slot
        self._factories: dict[str, Callable[..., nn.Module]] = {}

    def register(self, name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
        """Decorator registering ``factory`` under ``name`` (lower case, unique within the slot)."""
        key = name.lower()

        def _add(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
            if key in self._factories:
                raise ValueError(f"{self.slot} {key!r} is already registered to {self._factories[key]!r}.")
            self._factories[key] = factory
            return factory

        return _add

    def names(self) -> list[str]:
        """Sorted registered names."""
        return sorted(self._factories)

    def names_with(self, argument: str) -> list[str]:
        """Sorted registered names whose factory names ``argument`` in its signature (e.g. ``"stride"``)."""
        return [n for n in self.names() if takes_argument(self._factories[n], argument)]

    def get(self, name: str | Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        """Return the factory for ``name``; a callable is returned unchanged (custom modules from config).

        Raises:
            ValueError: ``name`` is not registered; the message lists the valid names.
        """
        if callable(name):
            return name
        if not isinstance(name, str) or name.lower() not in self._factories:
            raise ValueError(f"unknown {self.slot} {name!r}; valid names: {', '.join(self.names())}.")
        return self._factories[name.lower()]

    def build(self, name: str | Callable[..., nn.Module], **kwargs: Any) -> nn.Module:
        """Instantiate ``name`` with keyword arguments."""
        return self.get(name)(**kwargs)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._factories

    def __repr__(self) -> str:
        return f"SlotRegistry({self.slot!r}, names={self.names()})"


def takes_argument(factory: Callable[..., Any], argument: str) -> bool:
    """Whether ``factory`` (a class or a function) names ``argument`` in its signature (``**kwargs`` does not count:
    a factory that swallows unknown keywords would silently ignore it)."""
    try:
        return argument in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False


CONV_BLOCKS = SlotRegistry("ConvBlock")
SKIPS = SlotRegistry("SkipConn")
DOWN_OPS = SlotRegistry("DownOp")
UP_OPS = SlotRegistry("UpOp")
