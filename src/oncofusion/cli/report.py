"""``oncofusion report RUN --patient ID --out report.html [--pdf report.pdf] [--cohort DIR]``
and ``oncofusion report RUN --cohort --out cohort.html [--pdf cohort.pdf]``.

``--cohort`` is an option with an optional value: with ``--patient`` it names the cohort
directory holding the patient (default: the run's training cohort); without ``--patient``
it asks for the cohort report, of the run's test split (bare ``--cohort``) or of an
external cohort evaluated with ``oncofusion evaluate RUN --cohort DIR``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from oncofusion.cli._common import console, handle_user_errors

_BARE = "\x00bare"  # the value of a bare --cohort


class _ReportCommand(TyperCommand):
    """Lets ``--cohort`` be given with or without a value (click's ``flag_value``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.name == "cohort":
                param._flag_needs_value = True  # type: ignore[attr-defined]
                param.flag_value = _BARE  # type: ignore[attr-defined]


def register(app: typer.Typer) -> None:
    @app.command("report", cls=_ReportCommand)
    @handle_user_errors
    def report(
        run: Annotated[Path, typer.Argument(help="Run directory written by 'oncofusion train'.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write (self-contained, works offline).")],
        patient: Annotated[str | None, typer.Option("--patient", "-p", help="Patient id: write this patient's report.")
                           ] = None,
        cohort: Annotated[str | None, typer.Option(
            "--cohort", metavar="[DIR]",
            help="With --patient: the cohort directory holding the patient (default: the run's training cohort). "
            "Without --patient: write the cohort report (of DIR's evaluation if given, else of the test split).")
        ] = None,
        pdf: Annotated[Path | None, typer.Option("--pdf", help="Also write a PDF (print layout, static charts).")] = None,
        draws: Annotated[int, typer.Option("--draws", help="Monte-Carlo-dropout passes for the uncertainty bands.")] = 40,
        explain: Annotated[bool, typer.Option("--explain/--no-explain", help="Grad-CAM, SHAP and modality contributions.")
                           ] = True,
    ) -> None:
        """Write a patient report (--patient ID) or the cohort report (--cohort) as HTML (and PDF)."""
        from oncofusion.errors import ConfigError

        con = console()
        cohort_dir = None if cohort in (None, _BARE) else cohort
        if patient is not None:
            from oncofusion.report import patient_report

            patient_report(run, cohort_dir, patient, out=out, pdf=pdf, n_draws=draws, explain=explain)
            what = f"patient {patient}"
        elif cohort is not None:
            from oncofusion.report import cohort_report

            cohort_report(run, out=out, pdf=pdf, cohort=cohort_dir)
            what = "cohort"
        else:
            raise ConfigError("say which report: --patient ID (one patient's report) or --cohort (the cohort report).")
        con.print(f"{what} report written to [bold]{out}[/]" + (f" and [bold]{pdf}[/]" if pdf else ""))
