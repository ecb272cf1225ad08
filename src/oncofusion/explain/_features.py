"""Feature names for SHAP: original variables from one-hot columns, display values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from oncofusion.errors import ConfigError

__all__ = ["display_value", "feature_groups", "local_columns", "resolve_names"]


def feature_groups(names: Sequence[str]) -> tuple[list[str], list[list[int]]]:
    """Group columns into original variables: ``col=level`` columns share the variable ``col``.

    Returns the variable names (in order of first appearance) and each one's column indices.
    """
    variables: list[str] = []
    cols: dict[str, list[int]] = {}
    for j, name in enumerate(names):
        var = str(name).split("=", 1)[0] if "=" in str(name) else str(name)
        if var not in cols:
            variables.append(var)
            cols[var] = []
        cols[var].append(j)
    return variables, [cols[v] for v in variables]


def resolve_names(
    feature_names: Mapping[str, Sequence[str]] | Sequence[str] | None,
    preprocessor: Any,
    n_clin: int,
    n_gen: int,
) -> dict[str, list[str]]:
    """``{"clinical": [...], "genomics": [...]}`` from what was given, else the preprocessor's
    names, else ``clinical_0, ...`` / ``gene_0, ...``; lengths are checked against the batch."""
    if isinstance(feature_names, Mapping):
        given = {k: list(v) for k, v in feature_names.items()}
    elif feature_names is not None:
        given = {"clinical": list(feature_names)}
    else:
        given = {}
    if preprocessor is not None:
        given.setdefault("clinical", list(preprocessor.clinical_feature_names))
        given.setdefault("genomics", list(preprocessor.genomic_names))
    given.setdefault("clinical", [f"clinical_{j}" for j in range(n_clin)])
    given.setdefault("genomics", [f"gene_{j}" for j in range(n_gen)])
    for m, n in (("clinical", n_clin), ("genomics", n_gen)):
        if len(given[m]) != n:
            raise ConfigError(
                f"{len(given[m])} {m} feature names for {n} {m} columns in the batch; pass the "
                "names of the preprocessor that built the batch (clinical_feature_names)."
            )
    return given


def display_value(
    values: np.ndarray, names: list[str], cols: list[int], modality: str, stats: dict[str, Any]
) -> Any:
    """What a report shows for a variable: the level of a one-hot group, else the number in
    raw units when the preprocessor's statistics are given (``stats``), else as stored."""
    if len(cols) > 1 or "=" in names[cols[0]]:
        hot = [names[c].split("=", 1)[1] for c in cols if values[c] > 0.5]
        return hot[0] if hot else None
    var = names[cols[0]]
    st = stats.get("continuous" if modality == "clinical" else "genomics", {}).get(var)
    v = float(values[cols[0]])
    raw = v * st["sd"] + st["mean"] if st else v
    return float(f"{raw:.6g}") + 0.0  # float32 round-off and -0.0 off the display


def local_columns(group: np.ndarray, modality: str, n_clin: int) -> list[int]:
    """Column indices of a group inside its own modality's names."""
    if modality == "clinical":
        return [int(c) for c in group if c < n_clin]
    return [int(c) - 2 * n_clin for c in group]
