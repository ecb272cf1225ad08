"""Registries of named components, built from configs.

Encoders, fusions, heads, models and baselines register under a name; a config names
them and gives their keyword arguments. No code ever executes from a config.
An unknown name fails with a did-you-mean message (after MONAI's ``look_up_option``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from oncofusion.errors import ConfigError, UnknownOptionError

T = TypeVar("T")

__all__ = ["Registry", "look_up_option"]


def look_up_option(name: str, options: Mapping[str, T] | list[str], *, what: str = "option") -> Any:
    """Return ``options[name]`` or raise :class:`UnknownOptionError` with close matches."""
    keys = list(options) if not isinstance(options, list) else options
    if name in keys:
        return options[name] if isinstance(options, Mapping) else name
    close = difflib.get_close_matches(str(name), [str(k) for k in keys], n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownOptionError(
        f"unknown {what} '{name}'.{hint} Available: {', '.join(sorted(map(str, keys)))}."
    )


class Registry(Generic[T]):
    """A name -> factory map with a ``register`` decorator and ``build`` from a config."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ConfigError(f"{self.kind} '{name}' is registered twice.")
            self._items[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        return look_up_option(name, self._items, what=self.kind)

    def build(self, name: str, /, **kwargs: Any) -> Any:
        """Instantiate the component ``name`` with ``kwargs`` (from a config)."""
        factory = self.get(name)
        try:
            return factory(**kwargs)  # type: ignore[operator]
        except TypeError as e:
            raise ConfigError(f"cannot build {self.kind} '{name}' with {sorted(kwargs)}: {e}") from e

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)
