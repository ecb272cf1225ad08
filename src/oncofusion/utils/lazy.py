"""Lazy package attributes (PEP 562): public names imported from their submodule on first use."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    namespace: dict[str, Any], submodules: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of a package whose names load lazily.

    Parameters
    ----------
    namespace
        The package's ``globals()``. A name, once imported, is stored there, so later
        accesses no longer go through ``__getattr__``.
    submodules
        Public name -> the submodule that defines it, relative to the package
        (``{"RSFBaseline": "trees"}`` in ``oncofusion.baselines``).

    Examples
    --------
    In a package's ``__init__.py``::

        __getattr__, __dir__ = lazy_exports(globals(), {"RSFBaseline": "trees"})
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = submodules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *submodules})

    return __getattr__, __dir__
