"""The benchmark configuration: the same fields on the command line and in ``bench.yaml``.

A benchmark names a cohort, the models to compare (by runner name, see
:mod:`oncofusion.benchmark.runners`), how patients are split (``seeds`` repeats of a
train/validation/test split, or of ``cv``-fold cross-validation), the horizons and
modalities every model sees, and where results go. ``bench.yaml`` looks like this::

    cohort: cohorts/colon
    out: results/colon
    models:
      - cox
      - rsf
      - {name: rsf_clinical, runner: rsf, use: [clinical], options: {n_estimators: 300}}
    seeds: 5                 # or an explicit list: [0, 7, 42]
    cv: null                 # or K for repeated K-fold CV (one repeat per seed)
    reference: cox
    horizon: 1826
    use: [clinical]

No code executes from a config: models are registered runner names and their keyword
options.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from oncofusion.errors import ConfigError

__all__ = [
    "BenchmarkConfig",
    "ModelSpec",
    "config_from_mapping",
    "load_benchmark_config",
    "parse_list",
    "parse_seeds",
]

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MODALITIES = ("clinical", "biomarkers", "genomics", "imaging")


def _check_modalities(v: list[str] | None) -> list[str] | None:
    if v is not None:
        from oncofusion.registry import look_up_option

        if not v:
            raise ValueError("'use' is empty: give at least one modality")
        for m in v:
            look_up_option(m, list(MODALITIES), what="modality")
    return v


class ModelSpec(BaseModel):
    """One compared model: a display name, the runner that fits it and its options.

    Attributes
    ----------
    name
        The row label in every table (letters, digits, ``_ . -``); unique per benchmark.
    runner
        A name in :data:`oncofusion.benchmark.runners.MODEL_RUNNERS`; default ``name``.
    use
        Modalities this model ingests; default the benchmark's ``use``.
    options
        Keyword options of the runner (hyperparameters).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    runner: str | None = None
    use: list[str] | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not _LABEL.match(v):
            raise ValueError(f"model name {v!r} must use letters, digits, '_', '.', '-' only")
        return v

    @field_validator("use")
    @classmethod
    def _use(cls, v: list[str] | None) -> list[str] | None:
        return _check_modalities(v)

    @property
    def runner_name(self) -> str:
        """The runner to call (``runner`` or, when not given, ``name``)."""
        return self.runner or self.name


class BenchmarkConfig(BaseModel):
    """All settings of one benchmark run.

    Attributes
    ----------
    cohort
        The cohort directory.
    out
        Output directory (tables, figures, report, cache); reused to resume.
    models
        Model names (runner names) or :class:`ModelSpec` mappings.
    seeds
        Number of repeats (seeds ``seed, seed + 1, ...``) or the explicit list of seeds.
        One seed per repeat: it draws the split (or the folds) and seeds every model.
    seed
        First seed when ``seeds`` is a count.
    cv
        ``K`` for K-fold cross-validation in every repeat (pooled out-of-fold predictions);
        ``None`` for one train/validation/test split per repeat.
    sizes
        Train/validation/test shares of the split (``cv`` = None).
    val_fraction
        With ``cv``: share of each training fold held out as validation (early stopping).
    stratify
        Columns of ``patients.csv`` the splits are stratified by.
    reference
        The model the paired bootstrap compares the others with; default the first.
    horizon
        Primary horizon of Table 3 (AUC, Brier, truncation of Uno's C); default the
        cohort's last horizon.
    horizons
        Time points of Table 4 and of the integrated metrics; default the cohort's horizons.
    use
        Modalities every model may ingest unless its spec says otherwise (fair-comparison
        protocol, DMA-Net §2.6); default every modality the cohort declares. Each runner
        keeps those its model can read (tabular comparators drop ``imaging``).
    n_resamples
        Bootstrap resamples of the intervals and paired tests.
    grid_points
        Equally spaced prediction times up to the last horizon (plus the horizons), the grid
        of the integrated Brier score.
    landmarks, windows
        Dynamic benchmark (:mod:`oncofusion.benchmark.dynamic`): landmark times ``s`` and
        horizons ``Δt`` after them. Both given: a dynamic benchmark; ``cv`` defaults to 5.
    cache
        Reuse finished cells from ``out/cache`` (False: recompute and overwrite them).
    replicate_reports
        Also write the full evaluation report (every table and figure) of each repeat under
        ``out/replicates/``.
    """

    model_config = ConfigDict(extra="forbid")

    cohort: Path
    out: Path
    models: list[ModelSpec]
    seeds: int | list[int] = 5
    seed: int = 0
    cv: int | None = Field(None, ge=2)
    sizes: list[float] = Field(default_factory=lambda: [0.6, 0.2, 0.2])
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    stratify: list[str] = Field(default_factory=lambda: ["event"])
    reference: str | None = None
    horizon: float | None = Field(None, gt=0)
    horizons: list[float] | None = None
    use: list[str] | None = None
    n_resamples: int = Field(1000, ge=10)
    grid_points: int = Field(40, ge=2)
    landmarks: list[float] | None = None
    windows: list[float] | None = None
    cache: bool = True
    replicate_reports: bool = True

    @field_validator("models", mode="before")
    @classmethod
    def _specs(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = parse_list(v)
        if not isinstance(v, list) or not v:
            raise ValueError("give at least one model, e.g. models: [cox, rsf]")
        return [{"name": m} if isinstance(m, str) else m for m in v]

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: int | list[int]) -> int | list[int]:
        if isinstance(v, int) and v < 1:
            raise ValueError("seeds must be a positive count or a list of seeds")
        if isinstance(v, list) and (not v or len(set(v)) != len(v)):
            raise ValueError("the list of seeds must be non-empty without repeats")
        return v

    @field_validator("use")
    @classmethod
    def _use(cls, v: list[str] | None) -> list[str] | None:
        return _check_modalities(v)

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, v: list[float]) -> list[float]:
        if len(v) != 3 or any(x < 0 for x in v) or v[0] <= 0 or v[2] <= 0:
            raise ValueError(
                "sizes must be three shares (train, validation, test), train and test > 0"
            )
        if abs(sum(v) - 1.0) > 1e-6:
            raise ValueError(f"sizes must add up to 1, got {sum(v):g}")
        return v

    @field_validator("horizons", "landmarks", "windows")
    @classmethod
    def _times(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (not v or any(t < 0 for t in v) or sorted(set(v)) != list(v)):
            raise ValueError("times must be non-negative, strictly increasing and non-empty")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> BenchmarkConfig:
        names = [m.name for m in self.models]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"model names must be unique; {dup} appear twice (give them a 'name')")
        if (self.landmarks is None) != (self.windows is None):
            raise ValueError("a dynamic benchmark needs both 'landmarks' and 'windows'")
        if self.windows is not None and any(w <= 0 for w in self.windows):
            raise ValueError("windows (horizons after the landmark) must be > 0")
        if self.reference is not None and self.reference not in names:
            from oncofusion.registry import look_up_option

            look_up_option(self.reference, names, what="reference model (not among --models)")
        return self

    @property
    def dynamic(self) -> bool:
        """True for a landmark (dynamic prediction) benchmark."""
        return self.landmarks is not None

    @property
    def seed_list(self) -> list[int]:
        """The seed of every repeat."""
        if isinstance(self.seeds, list):
            return list(self.seeds)
        return [self.seed + r for r in range(self.seeds)]


def parse_list(text: str) -> list[str]:
    """``"cox, rsf,deepsurv"`` -> ``["cox", "rsf", "deepsurv"]`` (empty items dropped)."""
    return [t.strip() for t in str(text).split(",") if t.strip()]


def parse_seeds(text: str) -> int | list[int]:
    """``"5"`` -> 5 repeats; ``"0,7,42"`` -> those seeds."""
    items = parse_list(text)
    try:
        values = [int(t) for t in items]
    except ValueError:
        raise ConfigError(
            f"--seeds must be a count (e.g. 5) or a comma-separated list of integers, got {text!r}."
        ) from None
    if len(values) == 1 and "," not in str(text):
        return values[0]
    return values


def config_from_mapping(
    raw: dict[str, Any], *, source: str = "benchmark config"
) -> BenchmarkConfig:
    """Validate a mapping (YAML contents merged with command-line values)."""
    try:
        return BenchmarkConfig.model_validate(raw)
    except ValidationError as e:
        parts = []
        for err in e.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
            parts.append(f"{loc}: {err['msg']}")
        raise ConfigError(f"{source} is invalid: " + "; ".join(parts)) from e


def load_benchmark_config(
    path: str | Path | None, overrides: dict[str, Any] | None = None
) -> BenchmarkConfig:
    """Read ``bench.yaml`` (optional) and apply ``overrides`` (command-line values, not None).

    Relative ``cohort``/``out`` paths in the YAML are relative to the YAML file.
    """
    import yaml

    raw: dict[str, Any] = {}
    base: Path | None = None
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(
                f"benchmark config '{p}' does not exist. Fix: give the path of a YAML file."
            )
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"benchmark config '{p}' is not valid YAML: {e}") from e
        if not isinstance(loaded, dict):
            raise ConfigError(
                f"benchmark config '{p}' must be a mapping of fields (cohort, models, ...)."
            )
        raw, base = dict(loaded), p.parent
        for key in ("cohort", "out"):
            if isinstance(raw.get(key), str) and not Path(raw[key]).is_absolute():
                raw[key] = str(base / raw[key])
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    for key in ("cohort", "out", "models"):
        if key not in raw:
            flag = {"cohort": "the COHORT argument", "out": "--out", "models": "--models"}[key]
            raise ConfigError(f"the benchmark needs '{key}': give {flag} or set it in --config.")
    return config_from_mapping(raw, source=str(path) if path else "benchmark options")
