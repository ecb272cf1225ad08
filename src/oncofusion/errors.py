"""Exceptions raised for user mistakes.

Every message names the input, the rule it broke and how to fix it. The CLI catches
:class:`OncofusionError` and prints its message without a traceback (exit status 2).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "OncofusionError",
    "CohortError",
    "ConfigError",
    "UnknownOptionError",
    "SurvivalInputError",
    "NoComparablePairsError",
    "ModelLoadError",
]


class OncofusionError(Exception):
    """Base class of every error that reports a user mistake."""


def _format_rows(rows: Sequence[object], limit: int = 10) -> str:
    shown = ", ".join(str(r) for r in list(rows)[:limit])
    more = len(rows) - limit
    return shown + (f" (and {more} more)" if more > 0 else "")


class CohortError(OncofusionError, ValueError):
    """A cohort directory breaks the cohort format.

    Parameters
    ----------
    problem
        What is wrong, in one sentence.
    file
        The file (relative to the cohort directory) where it was found.
    column
        The offending column, if any.
    rows
        Data-row numbers (1-based, header excluded) or patient ids, if any.
    fix
        How to fix it.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        column: str | None = None,
        rows: Sequence[object] | None = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = file
        self.column = column
        self.rows = list(rows) if rows is not None else []
        self.fix = fix
        super().__init__(self._message())

    def _message(self) -> str:
        where = []
        if self.file:
            where.append(f"file '{self.file}'")
        if self.column:
            where.append(f"column '{self.column}'")
        if self.rows:
            where.append(f"row(s) {_format_rows(self.rows)}")
        msg = (", ".join(where) + ": " if where else "") + self.problem
        if self.fix:
            msg += f" Fix: {self.fix}"
        return msg


class ConfigError(OncofusionError, ValueError):
    """A configuration file or argument is invalid."""


class UnknownOptionError(ConfigError):
    """A registered name (encoder, fusion, head, baseline, ...) does not exist."""


class SurvivalInputError(OncofusionError, ValueError):
    """Arrays passed to a survival loss or metric are invalid (lengths, values, ranges)."""


class NoComparablePairsError(SurvivalInputError):
    """A concordance-type metric found no comparable pair, so it is undefined."""


class ModelLoadError(OncofusionError, ValueError):
    """A run directory cannot be loaded (missing file, checksum mismatch, unknown schema)."""
