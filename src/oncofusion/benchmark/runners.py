"""The runner registry: how each compared model is fitted, by name.

A runner is a function ``runner(train_cohort, val_cohort, seed, options) -> fitted model``;
the fitted model has ``predict_survival(cohort, times)`` (and, for a dynamic model,
``predict_survival(cohort, times, landmark=s)`` with ``times`` the horizons after ``s``).
The harness calls every runner on the same patients: ``train_cohort`` and ``val_cohort``
are the development patients of one split (the test patients never reach a runner).
Models that early-stop use ``val_cohort`` for it; the others fit on train + validation, so
every model learns from the same patients. Each model fits its own preprocessing on those
patients.

``options`` holds the model's keyword options from the benchmark config plus

* ``use``: the modalities it may ingest (always present);
* ``work_dir``: a scratch directory that lives until the predictions are made;
* ``landmarks``, ``window``: in a dynamic benchmark, the landmark times and the largest
  horizon after them.

Adding a model::

    from oncofusion.benchmark.runners import register_runner

    @register_runner("my_model", dynamic=False)
    def run_my_model(train, val, seed, options):
        return MyModel(seed=seed, **strip_reserved(options)).fit(train)

A runner whose code is not installed yet raises :class:`RunnerUnavailable`; the benchmark
then reports "not available yet" for it instead of a number.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from oncofusion.errors import OncofusionError
from oncofusion.registry import Registry

__all__ = [
    "MODEL_RUNNERS",
    "RESERVED_OPTIONS",
    "RunnerInfo",
    "RunnerUnavailable",
    "merge_cohorts",
    "register_runner",
    "runner_info",
    "strip_reserved",
]

Runner = Callable[[Any, Any, int, dict[str, Any]], Any]

#: benchmark models by name
MODEL_RUNNERS: Registry[Runner] = Registry("benchmark model")

#: options the harness adds for the runner (not hyperparameters of the model)
RESERVED_OPTIONS = ("use", "work_dir", "landmarks", "window")

_CLASSICAL_DYNAMIC = ("landmark_cox", "landmark_rsf", "landmark_supermodel")


@dataclass(frozen=True)
class RunnerInfo:
    """What the harness needs to know about a runner.

    Attributes
    ----------
    dynamic
        The fitted model predicts from a landmark: ``predict_survival(c, t, landmark=s)``.
    source
        Where the model lives (shown in tables and error messages).
    fingerprint
        ``fingerprint(options) -> JSON-able``: what the options resolve to beyond their
        own text (e.g. the content of a named model config), hashed into the cache key so
        that editing that content recomputes the cell; None when the options say it all.
    """

    dynamic: bool
    source: str
    fingerprint: Callable[[dict[str, Any]], Any] | None = None


_INFO: dict[str, RunnerInfo] = {}


class RunnerUnavailable(OncofusionError, RuntimeError):
    """The model's code is not installed (yet); the benchmark reports it as not available."""


def register_runner(
    name: str, *, dynamic: bool = False, source: str = "",
    fingerprint: Callable[[dict[str, Any]], Any] | None = None,
) -> Callable[[Runner], Runner]:
    """Register ``runner`` under ``name`` in :data:`MODEL_RUNNERS` (see :class:`RunnerInfo`)."""

    def decorator(fn: Runner) -> Runner:
        MODEL_RUNNERS.register(name)(fn)
        _INFO[name] = RunnerInfo(dynamic=dynamic, source=source or fn.__module__, fingerprint=fingerprint)
        return fn

    return decorator


def runner_info(name: str) -> RunnerInfo:
    """The :class:`RunnerInfo` of a registered runner (did-you-mean for unknown names)."""
    MODEL_RUNNERS.get(name)
    return _INFO.get(name, RunnerInfo(dynamic=False, source="(registered by the caller)"))


def strip_reserved(options: dict[str, Any], keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """``options`` without the harness's reserved keys (except those in ``keep``)."""
    return {k: v for k, v in options.items() if k not in RESERVED_OPTIONS or k in keep}


def merge_cohorts(a: Any, b: Any) -> Any:
    """The patients of two disjoint cohorts of one schema as one cohort (``a`` first)."""
    from oncofusion.data.cohort import Cohort

    def cat(x: pd.DataFrame | None, y: pd.DataFrame | None) -> pd.DataFrame | None:
        parts = [d for d in (x, y) if d is not None]
        return pd.concat(parts, ignore_index=True) if parts else None

    if len(b) == 0:
        return a
    return Cohort(
        root=a.root,
        schema=a.schema,
        patients=cat(a.patients, b.patients),  # type: ignore[arg-type]
        biomarkers=cat(a.biomarkers, b.biomarkers),
        genomics=cat(a.genomics, b.genomics),
        gene_graph=a.gene_graph,
        imaging=cat(a.imaging, b.imaging),
        metadata=dict(a.metadata),
    )


# -- classical comparators ------------------------------------------------------------------


def _classical(name: str) -> Runner:
    def run(train: Any, val: Any, seed: int, options: dict[str, Any]) -> Any:
        from oncofusion.baselines import BASELINES

        cls = BASELINES.get(name)
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
        params = strip_reserved(options)
        if "use" in accepted and options.get("use") is not None:
            params.setdefault("use", tuple(m for m in options["use"] if m != "imaging") or None)
        for key in ("landmarks", "window"):
            if key in accepted and options.get(key) is not None:
                params.setdefault(key, options[key])
        if "seed" in accepted:
            params.setdefault("seed", int(seed))
        model = BASELINES.build(name, **params)
        return model.fit(merge_cohorts(train, val))

    run.__name__ = f"run_{name}"
    run.__doc__ = f"Fit the classical comparator ``{name}`` on train + validation patients."
    return run


_CLASSICAL = (
    "cox",
    "coxnet",
    "rsf",
    "gbsa",
    "xgb_cox",
    "xgb_aft",
    "rf_radiomics",
    "xgb_radiomics",
    "landmark_cox",
    "landmark_rsf",
    "landmark_supermodel",
    "fong",
    "tnm",
)
for _name in _CLASSICAL:
    register_runner(
        _name, dynamic=_name in _CLASSICAL_DYNAMIC, source=f"oncofusion.baselines ({_name})"
    )(_classical(_name))


# -- deep comparators -------------------------------------------------------------------------


def _deep(name: str, module: str, fit_fn: str, config_cls: str, *, static: bool) -> Runner:
    def run(train: Any, val: Any, seed: int, options: dict[str, Any]) -> Any:
        import importlib

        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            raise RunnerUnavailable(
                f"not available yet: {e.name or module} is not in this installation "
                f"({name} needs {module} and lightning)."
            ) from None
        params = strip_reserved(options)
        params.setdefault("seed", int(seed))
        use = options.get("use")
        if use is not None:
            params.setdefault("use", [m for m in use if m != "imaging"])
        params.setdefault("accelerator", "cpu")
        if static:
            # A static model predicts from the baseline data, like the classical comparators
            # (biomarker summaries at or before time 0). Later visits would leak follow-up:
            # visits stop at the event or censoring, and the time of the last one is an input.
            params.setdefault("max_visit_time", 0.0)
        config = getattr(mod, config_cls)(**params)
        return getattr(mod, fit_fn)(train, val, config, work_dir=options.get("work_dir"))

    run.__name__ = f"run_{name}"
    run.__doc__ = (
        f"Train ``{name}`` ({module}.{fit_fn}), early stopping on the validation patients."
    )
    return run


register_runner("deepsurv", source="oncofusion.models.deepsurv")(
    _deep("deepsurv", "oncofusion.models.deepsurv", "fit_deepsurv", "DeepSurvConfig", static=True)
)
register_runner("deephit", source="oncofusion.models.deephit")(
    _deep("deephit", "oncofusion.models.deephit", "fit_deephit", "DeepHitConfig", static=True)
)
register_runner("dynamic_deephit", dynamic=True, source="oncofusion.models.dynamic_deephit")(
    _deep(
        "dynamic_deephit",
        "oncofusion.models.dynamic_deephit",
        "fit_dynamic_deephit",
        "DynamicDeepHitConfig",
        static=False,
    )
)


# -- DMA-Net ----------------------------------------------------------------------------------


def _dmanet_config_content(options: dict[str, Any]) -> Any:
    """The resolved content of the named DMA-Net config (cache key: edits recompute)."""
    from oncofusion.models.config import load_config

    try:
        return load_config(options.get("config", "dmanet-cpu")).model_dump(mode="json")
    except Exception:  # an unreadable config fails in the runner, with its own message
        return None


@register_runner("dmanet", dynamic=True, source="oncofusion.models.pipeline.train_model",
                 fingerprint=_dmanet_config_content)
def run_dmanet(train: Any, val: Any, seed: int, options: dict[str, Any]) -> Any:
    """Train DMA-Net (``oncofusion.models.pipeline.train_model``) from a model config.

    Options: ``config`` (a packaged config name or a YAML path, default ``dmanet-cpu``),
    ``overrides`` (nested mapping merged into it). ``use`` sets ``network.modalities``
    (imaging only when listed and the cohort has images; ``data.image_shape`` is dropped
    without it); ``seed`` sets ``train.seed``; in a dynamic benchmark ``landmarks`` become
    the training landmarks (``data.landmarks``).
    """
    import importlib

    try:
        pipeline = importlib.import_module("oncofusion.models.pipeline")
        config_mod = importlib.import_module("oncofusion.models.config")
        train_model = pipeline.train_model
    except (ModuleNotFoundError, AttributeError) as e:
        missing = getattr(e, "name", None) or "oncofusion.models.pipeline.train_model"
        raise RunnerUnavailable(
            f"not available yet: {missing} is not in this installation "
            "(DMA-Net needs oncofusion.models.pipeline.train_model and lightning)."
        ) from None
    params = strip_reserved(options)
    over: dict[str, Any] = dict(params.pop("overrides", {}) or {})
    name = params.pop("config", "dmanet-cpu")
    if params:
        from oncofusion.errors import ConfigError

        raise ConfigError(
            f"unknown dmanet option(s) {sorted(params)}; use 'config' and 'overrides' "
            "(a nested mapping merged into the model config)."
        )
    base = config_mod.load_config(name)
    use = options.get("use")
    mods = [m for m in base.network.modalities if use is None or m in use]
    # modalities the cohort lacks are dropped by train_model (models.pipeline.fit_to_cohort)
    over = _deep_merge(
        {
            "network": {"modalities": mods},
            "train": {"seed": int(seed), "progress": False, "accelerator": "cpu"},
            **({} if "imaging" in mods else {"data": {"image_shape": None}}),
        },
        over,
    )
    if options.get("landmarks") is not None:
        over = _deep_merge(
            {"data": {"landmarks": [float(s) for s in options["landmarks"] if s > 0]}}, over
        )
    config = config_mod.load_config(name, overrides=over)
    cohort = merge_cohorts(train, val)
    splits = {"train": train.patient_ids, "val": val.patient_ids, "test": []}
    run = train_model(cohort, config, work_dir=options["work_dir"], splits=splits, resume=False)
    return run.model


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = (
            _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        )
    return out
