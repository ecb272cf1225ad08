"""Run directories: one folder per fitted model, verifiable and loadable.

Layout (every file but ``checksums.json`` is listed in it with its SHA-256)::

    run/
      run.json            format version, model name, library versions, created
      config.yaml         the full configuration (registered names + arguments)
      weights.pt          torch state_dict (loaded with weights_only=True)
      preprocess.json     fitted preprocessing state (training patients only)
      schema.json         the cohort schema the model was trained on
      splits.json         patient ids per split
      metrics.json        evaluation results (written by ``evaluate``)
      model_card.md/.json
      checksums.json

Nothing is pickled: weights are a state_dict, everything else JSON/YAML.
"""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oncofusion.errors import ModelLoadError

__all__ = [
    "RUN_FORMAT_VERSION",
    "check_run",
    "file_sha256",
    "load_run",
    "read_json",
    "run_info",
    "start_run",
    "verify_checksums",
    "write_checksums",
    "write_json",
]

RUN_FORMAT_VERSION = 1
CHECKSUM_FILE = "checksums.json"


def write_json(path: Path, obj: Any) -> None:
    from oncofusion.utils.io import atomic_write

    with atomic_write(path) as fh:
        json.dump(obj, fh, indent=2, sort_keys=True, default=_json_default)


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot serialise {type(o).__name__} to JSON")


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError as e:
        raise ModelLoadError(f"run file '{path}' is missing. Fix: point to a complete run directory.") from e
    except json.JSONDecodeError as e:
        raise ModelLoadError(f"run file '{path}' is not valid JSON ({e}). Fix: re-create the run.") from e


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


#: files that evaluation and reporting rewrite; they are not part of the model's identity
MUTABLE_FILES = ("metrics.json", "model_card.md", "model_card.json")


def _is_model_file(rel: Path) -> bool:
    return not (
        rel.name == CHECKSUM_FILE
        or rel.name.startswith(".")
        or str(rel) in MUTABLE_FILES
        or rel.parts[0].startswith("evaluation")
        or rel.parts[0].startswith("reports")
    )


def write_checksums(run_dir: Path) -> dict[str, str]:
    """Hash the files that define the model and write ``checksums.json``.

    Evaluation outputs, metrics and the model card are left out: re-evaluating a run does
    not change its identity (the hash of ``checksums.json``, see :func:`run_checksum`).
    """
    run_dir = Path(run_dir)
    sums = {
        str(p.relative_to(run_dir)): file_sha256(p)
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and _is_model_file(p.relative_to(run_dir))
    }
    write_json(run_dir / CHECKSUM_FILE, sums)
    return sums


def run_checksum(run_dir: Path) -> str:
    """One digest of the whole run (the hash of ``checksums.json``)."""
    return file_sha256(Path(run_dir) / CHECKSUM_FILE)


def verify_checksums(run_dir: Path, *, ignore: tuple[str, ...] = ()) -> None:
    """Raise :class:`ModelLoadError` if a file is missing or differs from its recorded hash."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ModelLoadError(f"run directory '{run_dir}' does not exist. Fix: pass the --out of 'oncofusion train'.")
    sums = read_json(run_dir / CHECKSUM_FILE)
    for name, digest in sums.items():
        if name in ignore:
            continue
        p = run_dir / name
        if not p.is_file():
            raise ModelLoadError(f"run file '{p}' is listed in {CHECKSUM_FILE} but missing. Fix: restore the run directory.")
        if file_sha256(p) != digest:
            raise ModelLoadError(
                f"run file '{p}' does not match its checksum: it was changed after training. "
                "Fix: restore the original file or retrain."
            )


def run_info(model_name: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Format version, model name, creation time and library versions."""
    import importlib.metadata as md

    versions = {}
    for pkg in ("oncofusion", "torch", "numpy", "pandas", "scikit-survival", "monai", "lightning"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            continue
    info = {
        "format_version": RUN_FORMAT_VERSION,
        "model": model_name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "versions": versions,
    }
    if extra:
        info.update(extra)
    return info


def start_run(
    run_dir: str | Path, model_name: str, info: dict[str, Any], config: dict[str, Any]
) -> Path:
    """Create ``run_dir`` with its ``run.json`` (:func:`run_info` plus ``info``) and its
    ``config.yaml`` (``config``, keys sorted); return it as a :class:`~pathlib.Path`."""
    import yaml

    from oncofusion.utils.io import atomic_write

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "run.json", run_info(model_name, info))
    with atomic_write(run_dir / "config.yaml") as fh:
        yaml.safe_dump(config, fh, sort_keys=True)
    return run_dir


def check_format_version(run_dir: Path) -> dict[str, Any]:
    info = read_json(Path(run_dir) / "run.json")
    version = info.get("format_version")
    if version != RUN_FORMAT_VERSION:
        raise ModelLoadError(
            f"run '{run_dir}' has format version {version!r}; this oncofusion reads version "
            f"{RUN_FORMAT_VERSION}. Fix: use the oncofusion version that wrote it, or retrain."
        )
    return info


def check_run(run_dir: Path, model_name: str) -> dict[str, Any]:
    """Check a run directory before loading it as ``model_name``; return its ``run.json``.

    The model files must match their checksums (metrics and the model card may have been
    rewritten), the format version must be this one and the run must hold ``model_name``;
    else :class:`ModelLoadError`.
    """
    verify_checksums(run_dir, ignore=MUTABLE_FILES)
    info = check_format_version(run_dir)
    if info.get("model") != model_name:
        raise ModelLoadError(
            f"run '{run_dir}' holds model '{info.get('model')}', not '{model_name}'. "
            "Fix: load it with oncofusion.load(run_dir)."
        )
    return info


def load_run(run_dir: str | Path) -> Any:
    """Load a fitted model from ``run_dir`` after verifying checksums and format version."""
    run_dir = Path(run_dir)
    verify_checksums(run_dir)
    info = check_format_version(run_dir)
    from oncofusion.models.registry import MODELS, register_builtin_models

    register_builtin_models(info["model"])
    loader = MODELS.get(info["model"])
    return loader.load(run_dir)  # type: ignore[attr-defined]
