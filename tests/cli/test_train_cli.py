"""oncofusion train / evaluate / predict through the CLI, for DMA-Net and MM-Care configs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml
from typer.testing import CliRunner

from oncofusion.cli import app

TINY = Path(__file__).resolve().parents[2] / "src" / "oncofusion" / "data" / "examples" / "tiny"


def _tiny_config(tmp_path: Path) -> Path:
    cfg = {
        "name": "dmanet-tiny", "model": "dmanet",
        "data": {"image_shape": None, "split": [0.5, 0.25, 0.25], "landmarks": [1, 2]},
        "network": {
            "modalities": ["biomarkers", "clinical"],
            "encoders": {"biomarkers": {"name": "bilstm_attention", "args": {"hidden": 8, "out_features": 16}},
                         "clinical": {"name": "gated_mlp", "args": {"hidden": [16], "out_features": 16}}},
            "fusion": {"name": "cross_attention", "args": {"d_model": 16, "heads": 2, "align": None}},
            "head": {"name": "discrete_time", "args": {"input": "per_slice"}},
        },
        "train": {"max_epochs": 1, "batch_size": 4, "progress": False},
        "evaluation": {"n_resamples": 20},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_train_evaluate_predict_dmanet(tmp_path: Path) -> None:
    run = tmp_path / "run"
    r = CliRunner().invoke(app, ["train", str(TINY), "--config", str(_tiny_config(tmp_path)), "--out", str(run)])
    assert r.exit_code == 0, r.output
    assert (run / "checksums.json").is_file() and (run / "evaluation" / "report.md").is_file()
    r = CliRunner().invoke(app, ["evaluate", str(run), "--resamples", "20"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "p.parquet"
    r = CliRunner().invoke(app, ["predict", str(run), str(TINY), "--out", str(out)])
    assert r.exit_code == 0, r.output
    frame = pd.read_parquet(out)
    assert len(frame) == 12 and frame["risk_12"].between(0, 1).all()
    # an existing run is never overwritten silently, and nothing is half-written
    r = CliRunner().invoke(app, ["train", str(TINY), "--config", str(_tiny_config(tmp_path)), "--out", str(run)])
    assert r.exit_code == 2 and "exists" in r.output


def test_unknown_config_is_a_clear_error(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["train", str(TINY), "--config", "dmanet-cp", "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and "dmanet-cpu" in r.output
    assert not (tmp_path / "r").exists()


def test_train_dispatches_mmcare_configs(tmp_path: Path) -> None:
    from oncofusion.data.simulate import simulate_nsclc

    cohort = tmp_path / "nsclc"
    simulate_nsclc(n=60, seed=0, out=cohort, size=16)
    run = tmp_path / "mm"
    r = CliRunner().invoke(app, ["train", str(cohort), "--config", "mmcare-cpu", "--out", str(run), "--epochs", "1"])
    assert r.exit_code == 0, r.output
    import oncofusion

    model = oncofusion.load(run)
    assert model.name == "mmcare"
    r = CliRunner().invoke(app, ["evaluate", str(run), "--resamples", "20"])
    assert r.exit_code == 0, r.output
