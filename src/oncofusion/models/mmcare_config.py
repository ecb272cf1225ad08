"""The MM-Care model configuration (YAML): data, network, loss, propensity, decision, ROI.

MM-Care (seed paper 002) shares the ``data``, ``network``, ``train`` and ``evaluation``
blocks with every other model config (:mod:`oncofusion.models.config`) and adds

* ``loss``: :math:`L = \\lambda_{OS} L_{OS} + \\lambda_{LC} L_{LC}` (MM-Care eq. 18, with
  :math:`\\lambda_{OS} = 0.7`, :math:`\\lambda_{LC} = 0.3`) and how local control is modelled;
* ``propensity``: the treatment model fitted on training patients, the IPTW weights and the
  overlap (positivity) bounds;
* ``decision``: the recommendation rule :math:`\\alpha P_{OS}(\\tau) + \\beta P_{LC}(\\tau)`
  and the number of MC-dropout draws for its interval;
* ``roi``: the optional segmentation -> region-of-interest step (3D U-Net, then the CT
  masked and cropped around the predicted tumour);
* ``ensemble``: how many networks to train from different seeds and average (a deep
  ensemble; 1: a single network).

``load_mmcare_config("mmcare-cpu")`` reads a packaged config; nothing in a config executes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from oncofusion.errors import ConfigError
from oncofusion.models.config import DataConfig, EvaluationConfig, _merge, _resolve
from oncofusion.models.network import NetworkConfig
from oncofusion.train.config import TrainConfig

__all__ = [
    "DecisionConfig",
    "EnsembleConfig",
    "MMCareConfig",
    "MMCareLossConfig",
    "PropensityConfig",
    "ROIConfig",
    "is_mmcare_config",
    "load_mmcare_config",
    "mmcare_config_from_dict",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _pair(v: list[float] | None, name: str) -> list[float] | None:
    if v is not None and (len(v) != 2 or not 0 <= v[0] < v[1] <= 1):
        raise ValueError(f"{name} must be [low, high] with 0 <= low < high <= 1")
    return v


class MMCareLossConfig(_Strict):
    """Weights and forms of the two tasks (MM-Care eq. 18).

    ``lc="binary"``: one logit of local failure per LC horizon, trained with IPCW-weighted
    binary cross-entropy on the patients whose status at the horizon is known
    (:func:`~oncofusion.survival.losses.horizon_labels`); ``lc="discrete_time"``: a
    discrete-time hazard of local failure on the grid ``[0, *lc_horizons]`` trained with the
    discrete negative log-likelihood. ``smooth`` penalises jumps between adjacent OS logits.
    """

    os: float = Field(0.7, ge=0, description="lambda_OS")
    lc: float = Field(0.3, ge=0, description="lambda_LC")
    lc_mode: Literal["binary", "discrete_time"] = "binary"
    smooth: float = Field(0.01, ge=0)


class PropensityConfig(_Strict):
    """Propensity model (logistic, on the preprocessed clinical vector) and IPTW."""

    iptw: bool = True
    stabilised: bool = True
    clip: list[float] = Field(default_factory=lambda: [0.05, 0.95])
    C: float = Field(1.0, gt=0, description="inverse L2 penalty of the logistic model")
    overlap_bounds: list[float] = Field(default_factory=lambda: [0.05, 0.95])

    @field_validator("clip", "overlap_bounds")
    @classmethod
    def _bounds(cls, v: list[float]) -> list[float]:
        _pair(v, "bounds")
        if v[0] <= 0:
            raise ValueError("the low bound must be > 0")
        return v


class DecisionConfig(_Strict):
    """The recommendation rule and its uncertainty (MM-Care §4.7).

    ``horizon`` (cohort time unit) defaults to the last LC horizon (3 years in MM-Care);
    ``os_horizons``/``lc_horizons`` default to the cohort's horizons (LC: those within the
    training LC follow-up). ``mc_samples`` MC-dropout passes give the benefit interval
    (0: no interval).
    """

    alpha: float = Field(0.7, ge=0)
    beta: float = Field(0.3, ge=0)
    horizon: float | None = Field(None, gt=0)
    os_horizons: list[float] | None = None
    lc_horizons: list[float] | None = None
    mc_samples: int = Field(30, ge=0)
    ci: float = Field(0.9, gt=0, lt=1)
    randomised: bool = Field(
        False, description="the arms were randomised (IPW value uses arm shares)"
    )

    @field_validator("mc_samples")
    @classmethod
    def _draws(cls, v: int) -> int:
        if v == 1:
            raise ValueError("mc_samples must be 0 (no interval) or >= 2")
        return v


class ROIConfig(_Strict):
    """Segmentation -> ROI (MM-Care eq. 1-2): a 3D U-Net trained on the training patients'
    masks gives every patient's tumour mask :math:`M`, then

    * ``mode="mask"`` (MM-Care eq. 2): :math:`I_{ROI} = I_{CT} \\odot M'` on the CT's own
      grid, :math:`M'` the predicted mask dilated by ``margin`` voxels (the imaging encoder
      multiplies, ``use_segmentation``); the tumour keeps its physical size;
    * ``mode="crop"``: the CT masked, cropped around the tumour and resized to ``out_shape``
      (:func:`oncofusion.models.roi.roi_cohort`): more voxels on the tumour, but every tumour
      fills the box, so absolute size is no longer in the image.

    ``segmenter`` holds the arguments of
    :class:`~oncofusion.models.segmentation.SegmentationConfig`."""

    enabled: bool = False
    mode: Literal["mask", "crop"] = "mask"
    margin: int = Field(1, ge=0)
    out_shape: list[int] = Field(default_factory=lambda: [16, 16, 16])
    segmenter: dict[str, Any] = Field(default_factory=dict)

    @field_validator("out_shape")
    @classmethod
    def _three(cls, v: list[int]) -> list[int]:
        if len(v) != 3 or any(int(x) < 1 for x in v):
            raise ValueError("out_shape must be three positive integers (D, H, W)")
        return v

    def segmentation_config(self) -> Any:
        """The validated :class:`~oncofusion.models.segmentation.SegmentationConfig`."""
        from oncofusion.models.segmentation import SegmentationConfig

        try:
            return SegmentationConfig(**self.segmenter)
        except ValidationError as e:
            raise ConfigError(f"roi.segmenter is invalid: {e}") from e


class EnsembleConfig(_Strict):
    """A deep ensemble: ``members`` networks, member m trained with ``train.seed + 1000 m``
    (member 0 is the single network of ``members: 1``), on the same split, preprocessing,
    propensity model and ROI step, each early-stopped on the validation patients; the
    prediction averages the members' probabilities
    (:class:`~oncofusion.models.mmcare.MMCareEnsemble`)."""

    members: int = Field(1, ge=1, le=50)


class MMCareConfig(_Strict):
    """A whole MM-Care configuration (the blocks are described in the module docstring)."""

    name: str = "mmcare"
    model: Literal["mmcare"] = "mmcare"
    description: str | None = None
    data: DataConfig = Field(
        default_factory=lambda: DataConfig.model_validate(
            {"split": [0.7, 0.15, 0.15], "stratify": ["event", "arm"]}
        )
    )
    network: NetworkConfig
    loss: MMCareLossConfig = Field(default_factory=lambda: MMCareLossConfig.model_validate({}))
    propensity: PropensityConfig = Field(
        default_factory=lambda: PropensityConfig.model_validate({})
    )
    decision: DecisionConfig = Field(default_factory=lambda: DecisionConfig.model_validate({}))
    roi: ROIConfig = Field(default_factory=lambda: ROIConfig.model_validate({}))
    ensemble: EnsembleConfig = Field(default_factory=lambda: EnsembleConfig.model_validate({}))
    train: TrainConfig = Field(default_factory=lambda: TrainConfig.model_validate({}))
    evaluation: EvaluationConfig = Field(
        default_factory=lambda: EvaluationConfig.model_validate({})
    )

    @field_validator("network")
    @classmethod
    def _per_arm(cls, v: NetworkConfig) -> NetworkConfig:
        if v.head.name != "per_arm":
            raise ValueError(f"MM-Care needs the 'per_arm' head, got '{v.head.name}'")
        reserved = {"arms", "n_lc", "lc", "in_features", "n_intervals"} & set(v.head.args)
        if reserved:
            raise ValueError(
                f"network.head.args must not set {sorted(reserved)}: they come from the cohort and loss"
            )
        return v

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def mmcare_config_from_dict(raw: dict[str, Any], *, source: str = "config") -> MMCareConfig:
    """Validate a config dict; every problem is reported as ``block.field: message``."""
    try:
        return MMCareConfig.model_validate(raw)
    except ValidationError as e:
        lines = [f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()]
        raise ConfigError(f"{source} is invalid: " + "; ".join(lines)) from e


def _read(name_or_path: str | Path) -> tuple[Path, dict[str, Any]]:
    import yaml

    path = _resolve(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config '{path}' is not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"config '{path}' must be a YAML mapping of blocks (data, network, ...).")
    return path, raw


def load_mmcare_config(
    name_or_path: str | Path, overrides: dict[str, Any] | None = None
) -> MMCareConfig:
    """Read and validate an MM-Care config (packaged name or YAML path); ``overrides`` are
    merged in block by block (nested dicts), e.g. ``{"train": {"max_epochs": 2}}``."""
    path, raw = _read(name_or_path)
    if overrides:
        raw = _merge(raw, overrides)
    return mmcare_config_from_dict(raw, source=str(path))


def is_mmcare_config(name_or_path: str | Path) -> bool:
    """True when the config (packaged name or path) declares ``model: mmcare``.

    For command-line dispatch before validation: ``oncofusion train`` reads MM-Care
    configs with :func:`load_mmcare_config` and every other config with ``load_config``.
    """
    return _read(name_or_path)[1].get("model") == "mmcare"
