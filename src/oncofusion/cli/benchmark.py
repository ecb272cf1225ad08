"""``oncofusion benchmark COHORT --models cox,rsf,deepsurv --seeds 5 --out DIR``.

Every model on the same patient-level splits, seeds and metrics; tables (Table 3 and 4
shapes, mean ± SD over seeds, paired bootstrap against the reference), figures, a results
cache (an interrupted benchmark resumes) and wall times. With ``--landmarks`` and
``--windows`` a dynamic (landmark) benchmark. Options override the fields of ``--config``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from oncofusion.cli._common import console, handle_user_errors

__all__ = ["register"]


class _RichProgress:
    """A rich progress bar over models x seeds (x folds)."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.task: Any = None

    def start(self, total: int) -> None:
        self.task = self.bar.add_task("benchmark", total=total)

    def begin(self, model: str, seed: int, fold: int) -> None:
        self.bar.update(self.task, description=f"{model} · seed {seed} · fold {fold}")

    def end(self, cell: Any) -> None:
        self.bar.advance(self.task)


def _floats(text: str | None) -> list[float] | None:
    from oncofusion.benchmark.config import parse_list
    from oncofusion.errors import ConfigError

    if text is None:
        return None
    try:
        return [float(x) for x in parse_list(text)]
    except ValueError:
        raise ConfigError(f"expected comma-separated numbers, got {text!r}.") from None


def _rich_table(df: Any, title: str) -> Any:
    from rich.markup import escape
    from rich.table import Table

    from oncofusion.evaluation import format_table

    f = format_table(df)
    table = Table(title=title)
    for col in f.columns:
        table.add_column(escape(str(col)), overflow="fold")
    for row in f.itertuples(index=False):
        table.add_row(*(escape(str(v)) for v in row))
    return table


def _run(overrides: dict[str, Any], config_path: Path | None, quiet: bool) -> None:
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from oncofusion.benchmark.config import load_benchmark_config
    from oncofusion.benchmark.harness import run_benchmark

    config = load_benchmark_config(config_path, overrides)
    con = console()
    if quiet:
        result = run_benchmark(config)
    else:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=con, transient=True) as bar:
            result = run_benchmark(config, progress=_RichProgress(bar))
    main = "dynamic_seeds" if config.dynamic else "seeds"
    con.print(
        _rich_table(
            result.tables[main],
            "Mean ± SD over seeds"
            if not config.dynamic
            else "Dynamic prediction: mean ± SD over repeats",
        )
    )
    cached = sum(c.from_cache for c in result.cells)
    bad = result.tables["models"].query("status != 'ok'")
    for row in bad.itertuples(index=False):
        con.print(f"[yellow]{escape(row.model)}: {escape(row.status)}[/] {escape(row.message)}")
    con.print(
        f"{len(result.cells)} cells ({cached} from the cache); tables, figures and report.md "
        f"written to [bold]{escape(str(config.out))}[/]"
    )


def register(app: typer.Typer) -> None:
    """Add the ``benchmark`` command to ``app``."""

    @app.command("benchmark")
    @handle_user_errors
    def benchmark(
        cohort: Annotated[
            Path | None, typer.Argument(help="Cohort directory (or 'cohort' in --config).")
        ] = None,
        models: Annotated[
            str | None,
            typer.Option(
                "--models", "-m", help="Comma-separated model names, e.g. cox,rsf,deepsurv,dmanet."
            ),
        ] = None,
        seeds: Annotated[
            str | None,
            typer.Option(
                "--seeds",
                help="Number of repeats (seeds 0..N-1) or a list, e.g. 0,7,42. Default 5.",
            ),
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option(
                "--out", "-o", help="Output directory; rerun with the same --out to resume."
            ),
        ] = None,
        cv: Annotated[
            int | None,
            typer.Option(
                "--cv",
                help="K-fold cross-validation per repeat (default: one train/val/test split).",
            ),
        ] = None,
        reference: Annotated[
            str | None,
            typer.Option(
                "--reference",
                help="Model the paired bootstrap compares the others with (default: the first).",
            ),
        ] = None,
        horizon: Annotated[
            float | None,
            typer.Option("--horizon", help="Primary horizon (default: the cohort's last horizon)."),
        ] = None,
        use: Annotated[
            str | None,
            typer.Option(
                "--use",
                help="Modalities every model may ingest, e.g. clinical,biomarkers (default: all the cohort has).",
            ),
        ] = None,
        config: Annotated[
            Path | None,
            typer.Option(
                "--config", help="bench.yaml with the same fields (options given here override it)."
            ),
        ] = None,
        n_resamples: Annotated[
            int | None, typer.Option("--n-resamples", help="Bootstrap resamples (default 1000).")
        ] = None,
        landmarks: Annotated[
            str | None,
            typer.Option("--landmarks", help="Dynamic benchmark: landmark times, e.g. 1,3,5."),
        ] = None,
        windows: Annotated[
            str | None,
            typer.Option(
                "--windows", help="Dynamic benchmark: horizons after the landmark, e.g. 1,3,5."
            ),
        ] = None,
        no_cache: Annotated[
            bool, typer.Option("--no-cache", help="Recompute every cell (and overwrite the cache).")
        ] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ) -> None:
        """Compare models on identical splits, seeds and metrics: tables, figures, report.

        COHORT is the cohort directory (or 'cohort' in --config). Rerunning with the same
        --out resumes: finished (model, split) cells come from OUT/cache.
        """
        from oncofusion.benchmark.config import parse_list, parse_seeds

        overrides: dict[str, Any] = {
            "cohort": str(cohort) if cohort is not None else None,
            "models": parse_list(models) if models is not None else None,
            "seeds": parse_seeds(seeds) if seeds is not None else None,
            "out": str(out) if out is not None else None,
            "cv": cv,
            "reference": reference,
            "horizon": horizon,
            "use": parse_list(use) if use is not None else None,
            "n_resamples": n_resamples,
            "landmarks": _floats(landmarks),
            "windows": _floats(windows),
            "cache": False if no_cache else None,
        }
        _run(overrides, config, quiet)
