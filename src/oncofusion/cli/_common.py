"""Shared CLI helpers: user errors become one clear message and exit status 2."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USER_ERROR = 2


def handle_user_errors(fn: F) -> F:
    """Turn :class:`oncofusion.errors.OncofusionError` into a message on stderr and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from oncofusion.errors import OncofusionError

        try:
            return fn(*args, **kwargs)
        except OncofusionError as e:
            from rich.console import Console
            from rich.markup import escape

            Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(e))}")
            raise typer.Exit(EXIT_USER_ERROR) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)
