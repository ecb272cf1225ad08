"""The model configuration file (YAML): data handling, network, loss, training, evaluation.

A config names registered components and gives their arguments; nothing in it executes.
``load_config("dmanet-cpu")`` reads a packaged config from ``oncofusion/configs/``; any
other value is a path to a YAML file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from oncofusion.errors import ConfigError
from oncofusion.models.network import NetworkConfig
from oncofusion.train.config import TrainConfig
from oncofusion.train.objective import LossConfig

__all__ = ["DataConfig", "EvaluationConfig", "ModelConfig", "load_config", "packaged_configs"]

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    """How a cohort becomes training data."""

    image_shape: list[int] | None = Field(default=None, description="(T, H, W) or (D, H, W); None: no imaging")
    n_intervals: int = Field(12, ge=1)
    horizon: float | None = Field(None, gt=0, description="end of the time grid; default: the cohort's last horizon")
    cuts: list[float] | None = None
    baseline: float = Field(0.0, ge=0, description="data up to this time count as baseline")
    landmarks: list[float] = Field(default_factory=list, description="later landmarks for dynamic training")
    landmark_p: float = Field(0.5, ge=0, le=1)
    split: list[float] = Field(default_factory=lambda: [0.6, 0.2, 0.2])
    stratify: list[str] = Field(default_factory=lambda: ["event"])
    log_biomarkers: bool = False
    categorical_missing: str = "mode"

    @field_validator("image_shape")
    @classmethod
    def _three(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and (len(v) != 3 or any(int(x) < 1 for x in v)):
            raise ValueError("image_shape must be three positive integers (T, H, W) or (D, H, W)")
        return v

    @field_validator("split")
    @classmethod
    def _split(cls, v: list[float]) -> list[float]:
        if len(v) != 3 or any(x <= 0 for x in v):
            raise ValueError("split must be three positive shares or counts: train, validation, test")
        return v


class EvaluationConfig(_Strict):
    """What ``evaluate`` reports."""

    horizons: list[float] | None = None
    threshold_horizon: float | None = None
    n_resamples: int = Field(1000, ge=10)
    seed: int = 0


class ModelConfig(_Strict):
    """A whole model configuration."""

    name: str = "dmanet"
    model: str = "dmanet"
    description: str | None = None
    data: DataConfig = Field(default_factory=DataConfig)
    network: NetworkConfig
    loss: LossConfig = Field(default_factory=LossConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def packaged_configs() -> list[str]:
    """Names of the configs shipped with oncofusion."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def _resolve(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.is_file():
        return p
    stem = p.name.removesuffix(".yaml").removesuffix(".yml")
    packaged = CONFIG_DIR / f"{stem}.yaml"
    if packaged.is_file():
        return packaged
    from oncofusion.registry import look_up_option

    look_up_option(stem, packaged_configs(), what="config (neither a file nor a packaged config)")
    raise ConfigError(f"config '{name_or_path}' not found.")  # look_up_option raised already


def load_config(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> ModelConfig:
    """Read and validate a model config; ``overrides`` are merged in (nested dicts)."""
    import yaml

    path = _resolve(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config '{path}' is not valid YAML: {e}") from e
    if overrides:
        raw = _merge(raw, overrides)
    return config_from_dict(raw, source=str(path))


def config_from_dict(raw: dict[str, Any], *, source: str = "config") -> ModelConfig:
    try:
        return ModelConfig.model_validate(raw)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            loc = ".".join(str(x) for x in err["loc"])
            lines.append(f"{loc}: {err['msg']}")
        raise ConfigError(f"{source} is invalid: " + "; ".join(lines)) from e


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
