from __future__ import annotations

import numpy as np
import pytest

from oncofusion.errors import CohortError, SurvivalInputError, UnknownOptionError
from oncofusion.registry import Registry
from oncofusion.survival.target import check_survival_target


def test_registry_did_you_mean():
    reg: Registry = Registry("encoder")
    reg.register("resnet3d")(dict)
    with pytest.raises(UnknownOptionError, match="Did you mean 'resnet3d'"):
        reg.get("resnet3")
    assert reg.build("resnet3d", a=1) == {"a": 1}


def test_cohort_error_names_file_column_rows_and_fix():
    e = CohortError("time must be positive.", file="patients.csv", column="time", rows=[3, 7], fix="set it > 0.")
    msg = str(e)
    for part in ("patients.csv", "'time'", "3, 7", "Fix: set it > 0."):
        assert part in msg


@pytest.mark.parametrize(
    "time,event,match",
    [
        ([1.0, 2.0], [1], "same length"),
        ([1.0, np.nan], [1, 0], "finite"),
        ([1.0, -2.0], [1, 0], "non-negative"),
        ([1.0, 2.0], [1, 2], "only 0"),
        ([], [], "empty"),
    ],
)
def test_check_survival_target_rejects(time, event, match):
    with pytest.raises(SurvivalInputError, match=match):
        check_survival_target(time, event)


def test_check_survival_target_types():
    t, e = check_survival_target([1, 2, 3], [True, False, True])
    assert t.dtype == np.float64 and e.dtype == bool and e.tolist() == [True, False, True]


def test_cli_error_message_keeps_square_brackets():
    import typer
    from typer.testing import CliRunner

    from oncofusion.cli._common import handle_user_errors
    from oncofusion.errors import CohortError

    app = typer.Typer()

    @app.command()
    @handle_user_errors
    def boom() -> None:
        raise CohortError("found '[surgery]'.", file="patients.csv", column="arm")

    result = CliRunner().invoke(app, [])
    assert result.exit_code == 2
    assert "[surgery]" in result.output
