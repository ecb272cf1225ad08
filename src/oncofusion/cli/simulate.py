"""``oncofusion simulate``: write simulated cohorts with their ground truth; score the oracles."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oncofusion.cli._common import console, handle_user_errors

__all__ = ["register"]

_N = "Number of patients."
_SEED = "The seed; the same seed gives byte-identical files."
_OUT = "Cohort directory to create (cohort tables, images/, truth/)."
_NO_IMAGES = "Skip the images (and imaging.csv): fast, for large cohorts."
_OVERWRITE = "Replace a non-empty --out."


def _summary(cohort, path: Path) -> None:
    p = cohort.patients
    n_img = 0 if cohort.imaging is None else cohort.imaging["patient_id"].nunique()
    console().print(
        f"wrote '{cohort.name}' to {path}: {len(p)} patients, {int(p['event'].sum())} events, "
        f"{n_img} with images; ground truth in {path / 'truth'}"
    )


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command group to ``app``."""
    group = typer.Typer(
        help="Simulated cohorts with known hazards, oracle risks and potential outcomes.",
        no_args_is_help=True,
    )

    @group.command("crlm")
    @handle_user_errors
    def crlm_cmd(
        out: Annotated[Path, typer.Option("--out", "-o", help=_OUT)],
        n: Annotated[int, typer.Option("--n", min=1, help=_N)] = 300,
        seed: Annotated[int, typer.Option("--seed", help=_SEED)] = 0,
        frames: Annotated[int, typer.Option("--frames", min=1, help="Frames per CEUS phase.")] = 8,
        size: Annotated[
            int, typer.Option("--size", min=4, help="CEUS ROI height = width (pixels).")
        ] = 32,
        no_images: Annotated[bool, typer.Option("--no-images", help=_NO_IMAGES)] = False,
        overwrite: Annotated[bool, typer.Option("--overwrite", help=_OVERWRITE)] = False,
    ) -> None:
        """Colorectal cancer liver metastasis after DMA-Net: clinical, 3-phase CEUS, serial EZH2/CD10."""
        from oncofusion.data.simulate import simulate_crlm

        cohort = simulate_crlm(
            n, seed, str(out), frames=frames, size=size, images=not no_images, overwrite=overwrite
        )
        _summary(cohort, out)

    @group.command("nsclc")
    @handle_user_errors
    def nsclc_cmd(
        out: Annotated[Path, typer.Option("--out", "-o", help=_OUT)],
        n: Annotated[int, typer.Option("--n", min=1, help=_N)] = 2000,
        seed: Annotated[int, typer.Option("--seed", help=_SEED)] = 0,
        size: Annotated[int, typer.Option("--size", min=8, help="CT patch voxels per side.")] = 32,
        no_images: Annotated[bool, typer.Option("--no-images", help=_NO_IMAGES)] = False,
        overwrite: Annotated[bool, typer.Option("--overwrite", help=_OVERWRITE)] = False,
    ) -> None:
        """Early-stage NSCLC after MM-Care: CT nodule + mask, clinical, genomics, SBRT vs surgery."""
        from oncofusion.data.simulate import simulate_nsclc

        cohort = simulate_nsclc(
            n, seed, str(out), size=size, images=not no_images, overwrite=overwrite
        )
        _summary(cohort, out)

    @group.command("oracle-metrics")
    @handle_user_errors
    def oracle_cmd(
        cohort_dir: Annotated[Path, typer.Argument(help="A cohort written by 'simulate crlm'.")],
        ids: Annotated[
            Path | None,
            typer.Option("--ids", help="Text file with one patient id per line (a split)."),
        ] = None,
    ) -> None:
        """Oracle AUC(t), iAUC, Uno C, Brier and IBS per modality subset of a simulated CRLM cohort."""
        from rich.table import Table

        from oncofusion.data.simulate import oracle_metrics

        patient_ids = None
        if ids is not None:
            patient_ids = [line.strip() for line in ids.read_text().splitlines() if line.strip()]
        res = oracle_metrics(cohort_dir, patient_ids)
        wide = res.pivot(index="subset", columns="metric", values="value")
        order = [
            m
            for m in ("auc_3", "auc_6", "auc_9", "auc_12", "iauc", "uno_c", "brier_12", "ibs")
            if m in wide
        ]
        table = Table(
            title=f"Oracle metrics ({res.attrs['backend']}), {len(res) and res['n'].max()} patients"
        )
        table.add_column("subset")
        for m in order:
            table.add_column(m, justify="right")
        for subset, row in wide.iterrows():
            table.add_row(
                str(subset), *("-" if row[m] != row[m] else f"{row[m]:.3f}" for m in order)
            )
        console().print(table)

    app.add_typer(group, name="simulate")
