"""``oncofusion demo``: the main job, the DMA-Net study end to end on a simulated cohort.

``--case crlm`` (default): simulate the CRLM cohort (n = 300), split 180/60/60 stratified
by event, stage and EMVI, train DMA-Net and its unimodal variants, compare with a clinical
Cox model and the oracle on the test split, print Tables 3-5, the locked-threshold table
and the dynamic-update check, and say where every file went. ``--case nsclc``: the MM-Care
story (treatment recommendation, SBRT vs surgery).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oncofusion.cli._common import console, handle_user_errors


def example_cohort_dir() -> Path:
    """The packaged tiny example cohort (``oncofusion/data/examples/tiny``)."""
    import oncofusion

    return Path(oncofusion.__file__).parent / "data" / "examples" / "tiny"


_TABLES = (
    ("summary", "Table 3: test-set performance at 12 months (95% bootstrap CI)"),
    ("ablation", "Table 5: multimodal contributions (identical split and seed)"),
    ("time", "Table 4: performance over follow-up time"),
    ("threshold", "Youden threshold at 4 months, locked on validation, applied to test"),
    ("dynamic_update", "Dynamic update: AUC for events in (4, 12] among patients at risk at 4 months"),
)


@handle_user_errors
def demo(
    out: Annotated[Path, typer.Option("--out", help="Directory for the demo's outputs.")] = Path("demo-output"),
    case: Annotated[str, typer.Option("--case", help="crlm (DMA-Net) or nsclc (MM-Care).")] = "crlm",
    n: Annotated[int, typer.Option(help="Simulated patients.")] = 300,
    seed: Annotated[int, typer.Option(help="Seed of the simulation, split and training.")] = 0,
    epochs: Annotated[int | None, typer.Option(help="Cap on training epochs (default from the config).")] = None,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples for the CIs.")] = 1000,
    frames: Annotated[int, typer.Option(help="CEUS frames per phase in the simulation.")] = 8,
    size: Annotated[int, typer.Option(help="CEUS frame size (pixels) in the simulation.")] = 32,
    reports: Annotated[bool, typer.Option(help="Write the cohort report and two patient reports.")] = True,
) -> None:
    """Run the main demo end to end and print where its outputs went."""
    from oncofusion.registry import look_up_option

    con = console()
    look_up_option(case, ["crlm", "nsclc"], what="demo case")
    if case == "nsclc":
        from oncofusion.cli.demo_nsclc import run_nsclc_demo

        kwargs = {} if n == 300 else {"n": n}  # 300 is the CRLM default; MM-Care has its own
        paths = run_nsclc_demo(out, seed=seed, epochs=epochs, echo=lambda m: con.print(m, markup=False), **kwargs)
        con.print("Outputs:")
        for name, path in paths.items():
            con.print(f"  {name}: {path}")
        return
    from oncofusion.evaluation import markdown_table
    from oncofusion.workflows.crlm_demo import run_crlm_demo

    con.print(f"[bold]oncofusion demo[/]: DMA-Net on a simulated CRLM cohort (n = {n}, seed {seed}) -> {out}")
    result = run_crlm_demo(
        out, n=n, seed=seed, max_epochs=epochs, n_resamples=resamples, frames=frames, size=size, console=con,
        reports=reports,
    )
    for key, title in _TABLES:
        table = result.tables.get(key)
        if table is None or table.empty:
            continue
        if key == "time":
            table = table[table["model"] == "full"]
        con.print(f"\n[bold]{title}[/]")
        con.print(markdown_table(table), markup=False)
    con.print(f"\nFinished in {result.seconds / 60:.1f} min. Outputs:")
    con.print(f"  cohort (with ground truth in truth/): {result.cohort_dir}")
    for name, run in result.runs.items():
        con.print(f"  run '{name}': {run}")
    con.print(f"  evaluation report, tables (CSV/Markdown) and figures (PNG): {result.evaluation_dir}")
    for path in result.reports:
        con.print(f"  report: {path}")


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the ``oncofusion`` command line."""
    app.command("demo")(demo)
