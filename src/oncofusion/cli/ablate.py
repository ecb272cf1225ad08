"""``oncofusion ablate COHORT --config CONFIG --out DIR``."""

from __future__ import annotations

from pathlib import Path

import typer

from oncofusion.cli._common import console, handle_user_errors


def register(app: typer.Typer) -> None:
    @app.command("ablate")
    @handle_user_errors
    def ablate(
        cohort: Path = typer.Argument(..., help="Cohort directory."),
        config: str = typer.Option("dmanet-cpu", "--config", "-c", help="Packaged config name or YAML path."),
        out: Path = typer.Option(..., "--out", "-o", help="Directory for the variant runs and the table."),
        variants: str = typer.Option(
            "full,no_imaging,no_markers,no_clinical,concat_fusion",
            help="Comma-separated variants: full, imaging_only, markers_only, clinical_only, "
            "no_imaging, no_markers, no_clinical, concat_fusion, no_alignment.",
        ),
        resamples: int = typer.Option(1000, help="Bootstrap resamples."),
    ) -> None:
        """Retrain the ablations of DMA-Net Table 5 under identical splits and seeds."""
        from oncofusion.data import load_cohort
        from oncofusion.models.config import load_config
        from oncofusion.workflows.ablation import ablation_report, train_variants
        from oncofusion.workflows.variants import VARIANTS
        from oncofusion.registry import look_up_option

        names = [v.strip() for v in variants.split(",") if v.strip()]
        for n in names:
            look_up_option(n, VARIANTS, what="model variant")
        con = console()
        data = load_cohort(cohort, require_events=True)
        cfg = load_config(config)
        runs = train_variants(data, cfg, names, out, progress=lambda n: con.print(f"training variant [bold]{n}[/]"))
        report = ablation_report(runs, data, reference=names[0], out_dir=out / "evaluation", n_resamples=resamples)
        con.print(report.to_markdown())
        con.print(f"\nruns and tables written to [bold]{out}[/]")
