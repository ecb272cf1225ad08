"""Sites of a federation: assign patients to sites with different case mix, split and write them.

A cohort for federated training names each patient's site in an ``extra`` column of
``patients.csv`` (``extra: [site]`` in ``cohort.yaml``). :func:`assign_sites` adds one to a
cohort that has none (e.g. the simulated CRLM cohort), making the case mix differ between
sites; :func:`write_site_cohorts` writes one cohort directory per site, which is what a
hospital holds in the client/server mode.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from oncofusion.data.cohort import Cohort
from oncofusion.errors import CohortError, ConfigError

__all__ = ["assign_sites", "site_cohorts", "write_cohort_dir", "write_site_cohorts"]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _case_mix_column(cohort: Cohort, by: str | None) -> str:
    if by is not None:
        if by not in cohort.patients.columns:
            raise ConfigError(f"--by '{by}' is not a column of patients.csv; columns: {list(cohort.patients.columns)}.")
        return by
    stages = [c for c in cohort.schema.clinical.categorical if "stage" in c.lower()]
    return stages[0] if stages else "event"


def assign_sites(
    cohort: Cohort,
    n_sites: int,
    seed: int = 0,
    *,
    skew: float = 1.0,
    by: str | None = None,
    sizes: Sequence[float] | None = None,
    column: str = "site",
) -> Cohort:
    """A copy of ``cohort`` with a ``column`` naming each patient's site (``site_1`` ...).

    Sites differ in case mix along ``by`` (default: the first categorical clinical column
    whose name holds "stage", else ``event``): with the strata of ``by`` in sorted order
    :math:`j = 0..J-1` and sites :math:`k = 0..K-1`, a patient of stratum :math:`j` goes to
    site :math:`k` with probability

    .. math:: p_{jk} \\propto s_k \\exp\\big(\\text{skew} \\cdot u_j v_k\\big), \\quad
              u_j = \\tfrac{2j}{J-1} - 1, \\; v_k = \\tfrac{2k}{K-1} - 1

    so ``site_1`` sees more of the first stratum (e.g. stage I), the last site more of the
    last (stage III), and ``skew = 0`` gives sites with the same expected case mix.
    :math:`s_k` are the relative site ``sizes`` (default equal). Missing values of ``by``
    form their own, middle stratum.

    Parameters
    ----------
    cohort
        The cohort (not changed).
    n_sites
        Number of sites (>= 2).
    seed
        Seed of the draws.
    skew
        Strength of the case-mix difference (>= 0).
    by
        Column whose distribution differs between sites.
    sizes
        Relative site sizes, ``n_sites`` positive numbers.
    column
        Name of the new ``extra`` column.

    Returns
    -------
    Cohort
        The same tables with ``column`` in ``patients`` and in ``schema.extra``.
    """
    if n_sites < 2:
        raise ConfigError(f"n_sites must be >= 2 for a federation, got {n_sites}.")
    if skew < 0:
        raise ConfigError(f"skew must be >= 0, got {skew}.")
    if column in cohort.patients.columns:
        raise ConfigError(f"the cohort already has a '{column}' column. Fix: use it, or pass another column name.")
    s = np.ones(n_sites) if sizes is None else np.asarray(sizes, dtype=float)
    if s.shape != (n_sites,) or not np.all(s > 0):
        raise ConfigError(f"sizes must be {n_sites} positive numbers, got {sizes}.")
    col = _case_mix_column(cohort, by)
    values = cohort.patients[col].astype("string").fillna("\x00missing")
    levels = sorted(values.unique())
    if "\x00missing" in levels:  # missing sits in the middle of the ordering
        levels.remove("\x00missing")
        levels.insert(len(levels) // 2, "\x00missing")
    j = values.map({lv: i for i, lv in enumerate(levels)}).to_numpy()
    u = np.linspace(-1.0, 1.0, len(levels)) if len(levels) > 1 else np.zeros(1)
    v = np.linspace(-1.0, 1.0, n_sites)
    prob = s[None, :] * np.exp(skew * u[:, None] * v[None, :])
    prob /= prob.sum(axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    draws = rng.random(len(j))
    site = (draws[:, None] > np.cumsum(prob[j], axis=1)).sum(axis=1).clip(max=n_sites - 1)
    names = np.array([f"site_{k + 1}" for k in range(n_sites)])
    patients = cohort.patients.copy()
    patients[column] = names[site]
    empty = sorted(set(names) - set(patients[column]))
    if empty:
        raise ConfigError(f"{empty} got no patient ({len(patients)} patients, skew {skew}). Fix: fewer sites or less skew.")
    schema = cohort.schema.model_copy(update={"extra": [*cohort.schema.extra, column]})
    return Cohort(cohort.root, schema, patients, cohort.biomarkers, cohort.genomics, cohort.gene_graph,
                  cohort.imaging, dict(cohort.metadata, site_column=column, case_mix_by=col))


def site_cohorts(cohort: Cohort, column: str = "site") -> dict[str, Cohort]:
    """``{site name: the cohort of that site's patients}``, sites sorted by name."""
    if column not in cohort.patients.columns:
        raise CohortError(
            f"the cohort has no '{column}' column naming each patient's site.",
            file="patients.csv", column=column,
            fix=f"add '{column}' to patients.csv and to 'extra' in cohort.yaml, or run "
            "'oncofusion federated assign-sites'.",
        )
    sites = cohort.patients[column]
    if sites.isna().any():
        rows = cohort.patients.loc[sites.isna(), "patient_id"].astype(str).tolist()
        raise CohortError("some patients have no site.", file="patients.csv", column=column, rows=rows,
                          fix="give every patient a site.")
    out = {}
    for name in sorted(sites.astype(str).unique()):
        ids = cohort.patients.loc[sites.astype(str) == name, "patient_id"].tolist()
        out[name] = cohort.subset(ids)
    return out


def write_cohort_dir(cohort: Cohort, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``cohort`` (possibly a subset) as a cohort directory, with the image files it uses."""
    import yaml

    from oncofusion.utils.io import atomic_directory

    out = Path(out)
    with atomic_directory(out, overwrite=overwrite) as tmp:
        schema = cohort.schema.model_dump(mode="json", exclude_none=True)
        (tmp / "cohort.yaml").write_text(yaml.safe_dump(schema, sort_keys=False), encoding="utf-8")
        for name in ("patients", "biomarkers", "genomics", "gene_graph", "imaging"):
            table = getattr(cohort, name)
            if table is not None:
                table.to_csv(tmp / f"{name}.csv", index=False, lineterminator="\n")
        if cohort.imaging is not None:
            cols = [c for c in ("path", "mask_path") if c in cohort.imaging.columns]
            for rel in pd.unique(cohort.imaging[cols].to_numpy().ravel()):
                if isinstance(rel, str) and rel:
                    src, dst = cohort.root / rel, tmp / rel
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
    return out


def write_site_cohorts(cohort: Cohort, out_dir: str | Path, *, column: str = "site", overwrite: bool = False) -> dict[str, Path]:
    """Write one cohort directory per site under ``out_dir`` (``out_dir/<site>/``)."""
    out_dir = Path(out_dir)
    parts = site_cohorts(cohort, column)
    bad = [s for s in parts if not _SAFE_NAME.match(s)]
    if bad:
        raise CohortError(f"site names {bad} cannot be folder names.", file="patients.csv", column=column,
                          fix="use letters, digits, '_', '-' and '.' only.")
    return {name: write_cohort_dir(sub, out_dir / name, overwrite=overwrite) for name, sub in parts.items()}
