"""A small name -> object registry with helpful failures (see STYLE.md, point 4)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from plantpulse.data.core.errors import PlantPulseError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects; unknown names list what exists, duplicates are an error.

    ``kind`` is the word used in messages, e.g. ``Registry("connector")`` gives
    "Unknown connector 'opcua2'. Available: csv, images, logs, opcua."
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form: ``@REGISTRY.register("csv")``."""

        def deco(obj: T) -> T:
            self.add(name, obj)
            return obj

        return deco

    def add(self, name: str, obj: T) -> None:
        if name in self._items:
            msg = f"{self.kind} '{name}' is registered twice; pick another name."
            raise PlantPulseError(msg)
        self._items[name] = obj

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            msg = f"Unknown {self.kind} '{name}'. Available: {', '.join(sorted(self._items))}."
            raise UnknownNameError(msg) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
