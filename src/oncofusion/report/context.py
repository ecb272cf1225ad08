"""What a report knows about the run behind a model: card, metrics, splits, training data.

A :class:`RunContext` is built once per run (and cached by the run's checksum, so the
scoring service does not reload the training cohort for every patient report). Everything
it reads may be absent: a model passed without its run directory still gets a report, with
the sections that need the run (model card, risk tiers, training ranges) saying so.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oncofusion.errors import CohortError, ConfigError

__all__ = ["RunContext", "checksum_of", "primary_horizon", "run_context", "training_ranges", "used_modalities"]

_CACHE: OrderedDict[tuple[str, str, str], RunContext] = OrderedDict()
_CACHE_SIZE = 4


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def primary_horizon(model: Any, metrics: dict[str, Any] | None = None) -> float:
    """The horizon the run was evaluated at (``metrics.json``: ``horizon``, or its summary's),
    else the model's decision horizon (a model with arms), else the largest model horizon
    inside the time grid (as :func:`oncofusion.evaluation.run.evaluate_run` chooses it)."""
    cuts = np.asarray(model.cuts, dtype=float)
    metrics = metrics or {}
    for h in (metrics.get("horizon"), (metrics.get("summary") or {}).get("horizon"),
              getattr(model, "decision_horizon", None)):
        if isinstance(h, int | float) and cuts[0] < float(h) <= cuts[-1]:
            return float(h)
    inside = [float(h) for h in getattr(model, "horizons", []) if cuts[0] < float(h) <= cuts[-1]]
    return max(inside) if inside else float(cuts[-1])


def used_modalities(model: Any) -> list[str]:
    """The modalities the model's network reads (its ``modalities``, else the config's)."""
    net = getattr(model, "network", None)
    mods = getattr(net, "modalities", None) or getattr(getattr(net, "body", None), "modalities", None)
    if not mods:
        config = getattr(getattr(model, "config", None), "network", None)
        mods = getattr(config, "modalities", None) or []
    return [str(m) for m in mods]


@dataclass
class RunContext:
    """A fitted model with the files of its run directory.

    Attributes
    ----------
    model
        The fitted predictor (``network``, ``preprocessor``, ``schema``, ``cuts``, ...).
    run_dir
        The run directory, or None when only a model was given.
    card, metrics, splits, info
        ``model_card.json``, ``metrics.json``, ``splits.json`` and ``run.json`` ({} when absent).
    checksum
        SHA-256 of ``checksums.json`` (the run's identity), or None.
    """

    model: Any
    run_dir: Path | None = None
    card: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    splits: dict[str, list[str]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    checksum: str | None = None
    _training: Any = None
    _training_loaded: bool = False
    _memo: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ identity
    @property
    def model_name(self) -> str:
        card_model = self.card.get("model", {})
        config = getattr(self.model, "config", None)
        return str(card_model.get("name") or getattr(config, "name", None) or getattr(self.model, "name", "model"))

    @property
    def version(self) -> str:
        """Run id and software version, e.g. ``run 3f2a9c1d07be · oncofusion 0.1.0 · 2026-11-23``."""
        parts = []
        if self.checksum:
            parts.append(f"run {self.checksum[:12]}")
        versions = self.info.get("versions") or self.card.get("software") or {}
        if versions.get("oncofusion"):
            parts.append(f"oncofusion {versions['oncofusion']}")
        else:
            import oncofusion

            parts.append(f"oncofusion {oncofusion.__version__}")
        if self.info.get("created"):
            parts.append(f"trained {str(self.info['created'])[:10]}")
        return " · ".join(parts)

    @property
    def horizon(self) -> float:
        return primary_horizon(self.model, self.metrics)

    # ------------------------------------------------------------------ training data
    def training_cohort(self) -> Any:
        """The run's training cohort (from ``run.json``'s ``cohort_dir``), or None if gone."""
        if not self._training_loaded:
            self._training_loaded = True
            origin = self.info.get("cohort_dir") or self.card.get("data", {}).get("cohort_dir")
            if origin and Path(origin).is_dir():
                from oncofusion.data import load_cohort

                try:
                    self._training = load_cohort(origin, check_images=False)
                except CohortError:
                    self._training = None
        return self._training

    def split(self, name: str) -> Any:
        """The patients of split ``name`` of the training cohort, or None."""
        cohort = self.training_cohort()
        ids = self.splits.get(name)
        if cohort is None or not ids:
            return None
        known = set(cohort.patient_ids)
        ids = [i for i in ids if i in known]
        return cohort.subset(ids) if ids else None

    def memo(self, key: str, make: Any) -> Any:
        """``make()`` computed once per context (risk tiers, training ranges, ...)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]


def training_ranges(ctx: RunContext) -> dict[str, Any] | None:
    """Observed ranges of the training patients: ``{"clinical": {col: [min, max]},
    "biomarkers": {...}, "genomics": {...}, "arms": {arm: count}, "source": ...}``.

    Read from the model card's ``data.training_ranges`` when present, else computed from
    the training split of the run's cohort; None when neither is available.
    """
    stored = ctx.card.get("data", {}).get("training_ranges")
    if stored:
        return {**stored, "source": "model card"}

    def compute() -> dict[str, Any] | None:
        train = ctx.split("train")
        if train is None:
            return None
        schema = train.schema

        def ranges(df: Any, cols: list[str]) -> dict[str, list[float]]:
            out: dict[str, list[float]] = {}
            if df is None:
                return out
            for c in cols:
                if c in df:
                    v = np.asarray(df[c], dtype=float)
                    v = v[np.isfinite(v)]
                    if v.size:
                        out[c] = [float(v.min()), float(v.max())]
            return out

        arms: dict[str, int] = {}
        if "arm" in train.patients:
            arms = {str(k): int(v) for k, v in train.patients["arm"].dropna().astype(str).value_counts().items()}
        return {
            "clinical": ranges(train.patients, list(schema.clinical.continuous)),
            "biomarkers": ranges(train.biomarkers, list(schema.biomarkers)),
            "genomics": ranges(train.genomics, list(schema.genomics)),
            "arms": arms,
            "n_patients": len(train),
            "source": "training split",
        }

    return ctx.memo("training_ranges", compute)


def checksum_of(run_dir: Path) -> str | None:
    from oncofusion.models.run import file_sha256

    path = run_dir / "checksums.json"
    return file_sha256(path) if path.is_file() else None


def run_context(model_or_run_dir: Any, *, run_dir: str | Path | None = None) -> RunContext:
    """A :class:`RunContext` for a run directory or a loaded model (cached per run).

    Parameters
    ----------
    model_or_run_dir
        A run directory (loaded with :func:`oncofusion.load`) or a fitted model.
    run_dir
        The model's run directory when a model is given (for its card, tiers and ranges).
    """
    if isinstance(model_or_run_dir, str | Path):
        run_dir = Path(model_or_run_dir)
        model = None
    else:
        model = model_or_run_dir
        run_dir = Path(run_dir) if run_dir is not None else getattr(model, "run_dir", None)
    if model is not None and not hasattr(model, "network"):
        raise ConfigError(
            f"reports need a fitted multimodal model (with .network and .make_dataset), got "
            f"{type(model).__name__}. Fix: pass a run directory of 'oncofusion train' or oncofusion.load(run_dir)."
        )
    if run_dir is None:
        return RunContext(model=model)
    run_dir = Path(run_dir)
    checksum = checksum_of(run_dir) if run_dir.is_dir() else None
    # a context holds the model it was made for: the run's own (loaded here) or the caller's
    key = (str(run_dir.resolve()), checksum or "", "loaded" if model is None else str(id(model)))
    cached = _CACHE.get(key)
    if cached is not None and (model is None or cached.model is model):
        _CACHE.move_to_end(key)
        return cached
    if model is None:
        import oncofusion

        model = oncofusion.load(str(run_dir))
    ctx = RunContext(
        model=model,
        run_dir=run_dir,
        card=_read(run_dir / "model_card.json") or {},
        metrics=_read(run_dir / "metrics.json") or {},
        splits=_read(run_dir / "splits.json") or {},
        info=_read(run_dir / "run.json") or {},
        checksum=checksum,
    )
    _CACHE[key] = ctx
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return ctx
