"""``oncofusion federated``: training across sites that cannot share data (Flower).

``simulate`` runs every site of one cohort in this process; ``server`` and ``client`` are the
real deployment (one server, one client per hospital, gRPC with TLS and authentication);
``assign-sites`` and ``split`` prepare cohorts for both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oncofusion.cli._common import console, handle_user_errors

__all__ = ["register"]

_CONFIG = "Model config (packaged name or YAML path): network, loss and each site's local training."
_FED = "Federated config YAML: rounds, strategy, TLS certificate and secret paths (docs/scale-out.md)."
_ROUNDS = "Federated rounds (overrides the federated config)."
_STRATEGY = "fedavg or fedprox (overrides the federated config)."
_MU = "FedProx proximal weight mu."
_EPOCHS = "Local epochs per round (overrides the federated config)."
_INSECURE = "Allow a connection without TLS and authentication (trusted test networks only)."


def _load(config: str, fed_config: Path | None, **overrides: object):  # type: ignore[no-untyped-def]
    from oncofusion.federated.config import load_federated_config
    from oncofusion.models.config import load_config

    return load_config(config), load_federated_config(fed_config, overrides)


def _summary(rounds_csv: Path, run_dir: Path, best_round: int) -> None:
    import pandas as pd

    table = pd.read_csv(rounds_csv)
    last = table[table["round"] == best_round].drop(columns=["round"])
    con = console()
    con.print(f"metrics of the selected round {best_round} (AUC at the horizon, IBS up to it):")
    con.print(last.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    con.print(f"per-round log: [bold]{rounds_csv}[/]; model: [bold]{run_dir}[/] (oncofusion.load / evaluate / predict)")


def register(app: typer.Typer) -> None:
    """Add the ``federated`` command group to ``app``."""
    group = typer.Typer(help="Federated training across sites on Flower: only weights travel.", no_args_is_help=True)

    @group.command("simulate")
    @handle_user_errors
    def simulate_cmd(
        cohort: Annotated[Path, typer.Argument(help="Cohort directory with a site column.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (rounds.csv, run/).")],
        site_column: Annotated[str | None, typer.Option(
            "--site-column", help="patients.csv column naming the site (default: the federated config's, 'site').")] = None,
        rounds: Annotated[int | None, typer.Option("--rounds", min=1, help=_ROUNDS)] = None,
        config: Annotated[str, typer.Option("--config", "-c", help=_CONFIG)] = "dmanet-cpu",
        fed_config: Annotated[Path | None, typer.Option("--fed-config", help=_FED)] = None,
        strategy: Annotated[str | None, typer.Option("--strategy", help=_STRATEGY)] = None,
        mu: Annotated[float | None, typer.Option("--mu", min=0.0, help=_MU)] = None,
        local_epochs: Annotated[int | None, typer.Option("--local-epochs", min=1, help=_EPOCHS)] = None,
        test_fraction: Annotated[float, typer.Option(
            "--test-fraction", min=0.0, max=0.9, help="Share of patients held out from every site as a common test set.")] = 0.0,
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a non-empty --out.")] = False,
    ) -> None:
        """Simulate a federation in-process: each site of COHORT is a Flower client."""
        from oncofusion.data import load_cohort
        from oncofusion.data.splits import split_patients
        from oncofusion.federated.simulate import simulate_federation

        cfg, fed = _load(config, fed_config, rounds=rounds, strategy=strategy, mu=mu, local_epochs=local_epochs,
                         site_column=site_column)
        data = load_cohort(cohort, require_events=True)
        site_column = fed.site_column
        test_ids = None
        if test_fraction > 0:
            cols = tuple(c for c in ("event", site_column) if c in data.patients.columns)
            test_ids = split_patients(data.patients, sizes=(1 - test_fraction, test_fraction), stratify=cols,
                                      seed=fed.seed)["test"]
        console().print(f"federated {fed.strategy} of [bold]{cfg.name}[/] on {data.schema.name}: "
                        f"{data.patients[site_column].nunique() if site_column in data.patients else 0} sites, "
                        f"{fed.rounds} rounds x {fed.local_epochs} local epoch(s)")
        res = simulate_federation(data, cfg, fed, out, test_ids=test_ids, overwrite=overwrite)
        _summary(res.rounds_csv, res.run_dir, res.best_round)

    @group.command("server")
    @handle_user_errors
    def server_cmd(
        out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (rounds.csv, run/).")],
        address: Annotated[str, typer.Option("--address", help="HOST:PORT to listen on.")] = "127.0.0.1:8080",
        rounds: Annotated[int | None, typer.Option("--rounds", min=1, help=_ROUNDS)] = None,
        min_sites: Annotated[int | None, typer.Option("--min-sites", min=1, help="Sites to wait for.")] = None,
        config: Annotated[str, typer.Option("--config", "-c", help=_CONFIG)] = "dmanet-cpu",
        fed_config: Annotated[Path | None, typer.Option("--fed-config", help=_FED)] = None,
        strategy: Annotated[str | None, typer.Option("--strategy", help=_STRATEGY)] = None,
        mu: Annotated[float | None, typer.Option("--mu", min=0.0, help=_MU)] = None,
        local_epochs: Annotated[int | None, typer.Option("--local-epochs", min=1, help=_EPOCHS)] = None,
        insecure: Annotated[bool, typer.Option("--insecure", help=_INSECURE)] = False,
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a non-empty --out.")] = False,
    ) -> None:
        """Run the federation's server (Flower gRPC); sites join with 'oncofusion federated client'."""
        from oncofusion.federated.network import run_server

        cfg, fed = _load(config, fed_config, rounds=rounds, min_sites=min_sites, strategy=strategy, mu=mu,
                         local_epochs=local_epochs, insecure=insecure or None)
        console().print(f"federated {fed.strategy} server on {address}: waiting for {fed.min_sites} sites, "
                        f"{fed.rounds} rounds ({'INSECURE' if fed.insecure else 'TLS + authentication'})")
        res = run_server(cfg, fed, out, address=address, overwrite=overwrite)
        if res.rejected:
            console().print(f"[bold red]{len(res.rejected)} message(s) rejected[/]: see {res.run_dir / 'federation.json'}")
        _summary(res.rounds_csv, res.run_dir, res.best_round)

    @group.command("client")
    @handle_user_errors
    def client_cmd(
        cohort: Annotated[Path, typer.Argument(help="This site's cohort directory (its patients only).")],
        server: Annotated[str, typer.Option("--server", help="The server's HOST:PORT.")],
        site: Annotated[str | None, typer.Option("--site", help="This site's name (default: from the cohort).")] = None,
        config: Annotated[str, typer.Option("--config", "-c", help=_CONFIG)] = "dmanet-cpu",
        fed_config: Annotated[Path | None, typer.Option("--fed-config", help=_FED)] = None,
        wait: Annotated[float, typer.Option("--wait", min=1.0, help="Seconds to keep trying to reach the server.")] = 120.0,
        insecure: Annotated[bool, typer.Option("--insecure", help=_INSECURE)] = False,
    ) -> None:
        """Join a federation as one site: train locally each round; only weights leave the site."""
        from oncofusion.federated.network import run_client

        cfg, fed = _load(config, fed_config, insecure=insecure or None)
        run_client(cohort, cfg, fed, server=server, site=site, wait=wait)
        console().print("the server ended the federation")

    @group.command("assign-sites")
    @handle_user_errors
    def assign_cmd(
        cohort: Annotated[Path, typer.Argument(help="Cohort directory without a site column.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Cohort directory to write (with the site column).")],
        n_sites: Annotated[int, typer.Option("--n-sites", min=2, help="Number of sites.")] = 4,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the assignment.")] = 0,
        skew: Annotated[float, typer.Option("--skew", min=0.0, help="Case-mix difference between sites (0: none).")] = 1.0,
        by: Annotated[str | None, typer.Option("--by", help="Column whose mix differs (default: a stage column).")] = None,
        site_column: Annotated[str, typer.Option("--site-column", help="Name of the new column.")] = "site",
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a non-empty --out.")] = False,
    ) -> None:
        """Copy a cohort with each patient assigned to a site, with different case mix per site."""
        from oncofusion.data import load_cohort
        from oncofusion.federated.sites import assign_sites, write_cohort_dir

        data = assign_sites(load_cohort(cohort), n_sites, seed, skew=skew, by=by, column=site_column)
        write_cohort_dir(data, out, overwrite=overwrite)
        mix = data.patients.groupby(site_column)[data.metadata["case_mix_by"]].value_counts().unstack(fill_value=0)
        console().print(f"wrote {out}: {len(data)} patients over {n_sites} sites; case mix by "
                        f"{data.metadata['case_mix_by']}:\n{mix.to_string()}")

    @group.command("split")
    @handle_user_errors
    def split_cmd(
        cohort: Annotated[Path, typer.Argument(help="Cohort directory with a site column.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder for one cohort directory per site.")],
        site_column: Annotated[str, typer.Option("--site-column", help="patients.csv column naming the site.")] = "site",
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing site folders.")] = False,
    ) -> None:
        """Write one cohort directory per site (what each hospital holds in the client/server mode)."""
        from oncofusion.data import load_cohort
        from oncofusion.federated.sites import write_site_cohorts

        written = write_site_cohorts(load_cohort(cohort), out, column=site_column, overwrite=overwrite)
        console().print("\n".join(f"{name}: {path}" for name, path in written.items()))

    @group.command("make-certs")
    @handle_user_errors
    def certs_cmd(
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the credentials (keep it private).")],
        host: Annotated[list[str] | None, typer.Option("--host", help="Server name or IP (repeatable).")] = None,
        days: Annotated[int, typer.Option("--days", min=1, help="Validity in days.")] = 30,
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing credentials.")] = False,
    ) -> None:
        """Trial TLS certificates, a shared secret and a federated.yaml (for tests; hospitals use their PKI)."""
        from oncofusion.federated.certs import make_trial_credentials

        files = make_trial_credentials(out, host or ["127.0.0.1", "localhost"], days=days, overwrite=overwrite)
        console().print(f"wrote {', '.join(p.name for p in files.values())} to {out}; use --fed-config {files['config']}; "
                        "copy ca.pem, federation.secret and federated.yaml (without server.key) to each site")

    app.add_typer(group, name="federated")
