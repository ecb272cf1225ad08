"""Training, inference and the run directory of the deep comparators.

* :func:`prepare_data`, :func:`train_network`, :func:`run_network`: preprocessing and time
  grid fitted on the training patients, training with :func:`oncofusion.train.fit`,
  batched inference; :func:`fit_comparator`: the whole training of one comparator.
* :class:`FittedDeepComparator`: save/load of a run directory (config YAML, weights as a
  state_dict, preprocessing/schema/model state as JSON, checksums; never pickle).
"""

from __future__ import annotations

import abc
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
import yaml
from torch import Tensor, nn

from oncofusion.errors import ConfigError, ModelLoadError
from oncofusion.models._deep_common import DeepComparatorConfig
from oncofusion.models.base import FittedSurvivalModel, check_times
from oncofusion.models.run import (
    check_run,
    read_json,
    start_run,
    write_checksums,
    write_json,
)

__all__ = [
    "FittedDeepComparator",
    "PreparedData",
    "fit_comparator",
    "hold_after_grid",
    "make_cuts",
    "make_dataset",
    "outcomes",
    "prepare_data",
    "run_network",
    "train_network",
    "training_summary",
]


@dataclass
class PreparedData:
    """Preprocessing, time grid and datasets of one training run."""

    preprocessor: Any
    cuts: np.ndarray
    train_set: Any
    val_set: Any
    dims: dict[str, Any]

    @property
    def time_scale(self) -> float:
        return float(self.cuts[-1])


def make_cuts(config: DeepComparatorConfig, time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """The grid :math:`c_0 < \\dots < c_K` from the config, fitted on training outcomes."""
    from oncofusion.survival.discretize import Discretizer

    if config.cuts is not None:
        disc = Discretizer.from_cuts(config.cuts)
    elif config.cut_scheme == "quantile":
        disc = Discretizer.quantile(config.n_intervals)
    else:
        disc = Discretizer.equidistant(config.n_intervals)
    return np.asarray(disc.fit(time, event).cuts, dtype=np.float64)


def outcomes(cohort: Any) -> tuple[np.ndarray, np.ndarray]:
    p = cohort.patients
    return p["time"].to_numpy(dtype=np.float64), p["event"].to_numpy().astype(bool)


def make_dataset(
    cohort: Any, preprocessor: Any, use: Sequence[str], max_visit_time: float | None
) -> Any:
    from oncofusion.data.dataset import PatientDataset

    return PatientDataset(cohort, preprocessor, modalities=list(use), max_visit_time=max_visit_time)


def prepare_data(
    cohort_train: Any,
    cohort_val: Any,
    config: DeepComparatorConfig,
    *,
    max_visit_time: float | None,
) -> PreparedData:
    """Fit the preprocessing and the grid on ``cohort_train``; build both datasets.

    The list of categorical levels comes from the cohort ``cohort_train`` was cut from
    (:meth:`~oncofusion.data.cohort.Cohort.categorical_levels`; values only, no outcome), so a
    rare level that the split put only in validation or test is a known all-zero column, as
    in the DMA-Net pipeline; imputation and scales come from the training patients.
    """
    from oncofusion.data.preprocess import TabularPreprocessor

    if len(cohort_train) < 2 or len(cohort_val) < 1:
        raise ConfigError(
            f"training needs >= 2 training and >= 1 validation patients, got {len(cohort_train)} "
            f"and {len(cohort_val)}. Fix: check the split."
        )
    time, event = outcomes(cohort_train)
    prep = TabularPreprocessor().fit(cohort_train, vocabulary_from_cohort=True)
    cuts = make_cuts(config, time, event)
    train_set = make_dataset(cohort_train, prep, config.use, max_visit_time)
    val_set = make_dataset(cohort_val, prep, config.use, max_visit_time)
    return PreparedData(prep, cuts, train_set, val_set, train_set.dims)


def train_network(
    net: nn.Module,
    objective: Callable[..., Any],
    data: PreparedData,
    config: DeepComparatorConfig,
    cohort_train: Any,
    work_dir: str | Path | None = None,
) -> Any:
    """Train ``net`` with :func:`oncofusion.train.fit`; load and return its best weights.

    Without ``work_dir`` checkpoints go to a temporary folder removed afterwards.
    """
    from oncofusion.data.collate import collate_patients
    from oncofusion.train.fit import fit

    time, event = outcomes(cohort_train)

    def run(folder: str | Path) -> Any:
        return fit(
            net,
            objective,
            data.train_set,
            data.val_set,
            train_time=time,
            train_event=event,
            grid=data.cuts[1:],
            config=config.train_config(),
            collate=collate_patients,
            work_dir=folder,
            resume=work_dir is not None,
        )

    if work_dir is not None:
        result = run(work_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="oncofusion-") as tmp:
            result = run(tmp)
    net.load_state_dict(result.state_dict)
    net.eval()
    return result


@torch.no_grad()
def run_network(
    net: nn.Module, dataset: Any, keys: tuple[str, ...], batch_size: int = 256
) -> dict[str, np.ndarray]:
    """Outputs ``keys`` of ``net`` (eval mode) over ``dataset`` in order, as float64 arrays."""
    from oncofusion.data.collate import collate_patients

    net.eval()
    device = next(iter(net.parameters())).device
    chunks: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for start in range(0, len(dataset), batch_size):
        batch = collate_patients(
            [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        )
        batch = {
            k: (
                v.to(device)
                if isinstance(v, Tensor)
                else {m: t.to(device) for m, t in v.items()}
                if isinstance(v, dict)
                else v
            )
            for k, v in batch.items()
        }
        out = net(batch)
        for k in keys:
            chunks[k].append(out[k].detach().cpu().double().numpy())
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in chunks.items()}


def training_summary(result: Any) -> dict[str, Any]:
    return {
        "best_epoch": int(result.best_epoch),
        "best_score": float(result.best_score),
        "epochs_run": int(result.epochs_run),
        "history": result.history,
    }


def hold_after_grid(times: np.ndarray, last_cut: float, name: str) -> None:
    if times.size and float(times.max()) > last_cut:
        warnings.warn(
            f"{name}: times past the last grid cut {last_cut:g} were not modelled; S(t) is held "
            "at its last value there. Fix: widen the grid (n_intervals/cuts) or predict earlier.",
            UserWarning,
            stacklevel=3,
        )


# ---------------------------------------------------------------------- the fitted model
class FittedDeepComparator(FittedSurvivalModel):
    """Base of the fitted deep comparators: a network, its preprocessing and time grid.

    Run directory written by :meth:`save`::

        run.json        format version, model name, library versions, time unit
        config.yaml     {model: name, config: the pydantic config, dims: input sizes}
        weights.pt      the network's state_dict (loaded with ``weights_only=True``)
        preprocess.json the TabularPreprocessor fitted on the training patients
        schema.json     the training cohort's schema
        model.json      grid cuts, method-specific state, training summary
        checksums.json
    """

    config_class: ClassVar[type[DeepComparatorConfig]] = DeepComparatorConfig

    def __init__(
        self,
        config: DeepComparatorConfig,
        net: nn.Module,
        preprocessor: Any,
        schema: Any,
        cuts: np.ndarray,
        dims: dict[str, Any],
        training: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.net = net.eval()
        self.preprocessor = preprocessor
        self.schema = schema
        self.time_unit = schema.time_unit
        self.cuts = np.asarray(cuts, dtype=np.float64)
        self.dims = dict(dims)
        self.training = training or {}

    @staticmethod
    @abc.abstractmethod
    def build_net(config: Any, dims: dict[str, Any], cuts: np.ndarray) -> nn.Module:
        """The method's network for ``config`` (each comparator defines it)."""

    @staticmethod
    @abc.abstractmethod
    def build_objective(config: Any, cuts: np.ndarray) -> Callable[..., Any]:
        """The method's training loss ``(outputs, batch) -> {"loss", ...}`` on the grid ``cuts``."""

    @staticmethod
    def _before_training(net: nn.Module, data: PreparedData, cohort_train: Any) -> None:
        """Prepare the initialised network for training (nothing by default)."""

    def _after_training(self, data: PreparedData, cohort_train: Any) -> None:
        """Complete the model once its network is trained (nothing by default)."""

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _set_extra_state(self, state: dict[str, Any]) -> None:
        return None

    def _dataset(self, cohort: Any, max_visit_time: float | None) -> Any:
        return make_dataset(cohort, self.preprocessor, self.config.use, max_visit_time)

    def _times(self, times: Any) -> np.ndarray:
        return check_times(times)

    def save(self, run_dir: str | Path) -> None:
        from oncofusion.utils.io import atomic_write

        run_dir = start_run(
            run_dir,
            self.name,
            {"kind": "deep_comparator", "time_unit": self.time_unit},
            {
                "model": self.name,
                "config": self.config.model_dump(mode="json"),
                "dims": {k: v for k, v in self.dims.items() if k != "imaging"},
            },
        )
        with atomic_write(run_dir / "weights.pt", "wb") as fh:
            torch.save({k: v.detach().cpu() for k, v in self.net.state_dict().items()}, fh)
        with atomic_write(run_dir / "preprocess.json") as fh:
            # not write_json: its sorted keys would reorder the marker columns of the state
            fh.write(self.preprocessor.to_json())
        write_json(run_dir / "schema.json", self.schema.model_dump())
        write_json(
            run_dir / "model.json",
            {"cuts": self.cuts.tolist(), "state": self._extra_state(), "training": self.training},
        )
        write_checksums(run_dir)

    @classmethod
    def load(cls, run_dir: str | Path) -> FittedDeepComparator:
        from oncofusion.data.preprocess import TabularPreprocessor
        from oncofusion.data.schema import CohortSchema

        run_dir = Path(run_dir)
        check_run(run_dir, cls.name)
        try:
            meta = yaml.safe_load((run_dir / "config.yaml").read_text())
            config = cls.config_class(**meta["config"])
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as e:
            raise ModelLoadError(
                f"run file '{run_dir / 'config.yaml'}' cannot be read ({e})."
            ) from e
        state = read_json(run_dir / "model.json")
        cuts = np.asarray(state["cuts"], dtype=np.float64)
        dims = dict(meta["dims"])
        net = cls.build_net(config, dims, cuts)
        weights = torch.load(run_dir / "weights.pt", map_location="cpu", weights_only=True)
        net.load_state_dict(weights)
        model = cls(
            config,
            net,
            TabularPreprocessor.from_json((run_dir / "preprocess.json").read_text()),
            CohortSchema(**read_json(run_dir / "schema.json")),
            cuts,
            dims,
            state.get("training"),
        )
        model._set_extra_state(state.get("state", {}))
        return model


FittedT = TypeVar("FittedT", bound=FittedDeepComparator)


def fit_comparator(
    fitted_class: type[FittedT],
    cohort_train: Any,
    cohort_val: Any,
    config: DeepComparatorConfig | None,
    work_dir: str | Path | None = None,
) -> FittedT:
    """Train the comparator ``fitted_class`` on ``cohort_train``, early-stopping on ``cohort_val``.

    Preprocessing, grid and datasets are fitted on ``cohort_train`` (:func:`prepare_data`,
    visits up to ``config.max_visit_time``); torch is seeded with ``config.seed`` before the
    network (``build_net``) is initialised; it is trained on ``build_objective``
    (:func:`train_network`, checkpoints in ``work_dir``) between the class's
    ``_before_training`` and ``_after_training`` steps. ``config=None`` means the defaults
    of ``fitted_class.config_class``.
    """
    config = config or fitted_class.config_class.model_validate({})
    data = prepare_data(cohort_train, cohort_val, config, max_visit_time=config.max_visit_time)
    torch.manual_seed(config.seed)
    net = fitted_class.build_net(config, data.dims, data.cuts)
    objective = fitted_class.build_objective(config, data.cuts)
    fitted_class._before_training(net, data, cohort_train)
    result = train_network(net, objective, data, config, cohort_train, work_dir)
    model = fitted_class(
        config,
        net,
        data.preprocessor,
        cohort_train.schema,
        data.cuts,
        data.dims,
        training_summary(result),
    )
    model._after_training(data, cohort_train)
    return model
