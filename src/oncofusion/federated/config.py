"""The federated-training configuration (a YAML file of its own, ``--fed-config``).

The *model* config (``--config``) says what network to train and how each site trains
locally (``train:`` block); this file says how the sites train together::

    rounds: 20              # federated rounds
    local_epochs: 2         # epochs each site trains per round
    strategy: fedavg        # fedavg | fedprox
    mu: 0.01                # FedProx proximal weight (strategy: fedprox)
    val_fraction: 0.2       # each site's own validation share (per-site evaluation)
    min_sites: 2            # the server waits for this many sites
    seed: 0
    tls:                    # Flower's TLS (server: all three; client: ca_cert)
      ca_cert: certs/ca.pem
      server_cert: certs/server.pem
      server_key: certs/server.key
    auth:
      secret_file: certs/federation.secret   # shared secret: HMAC-SHA256 on every message
    insecure: false         # true only for a trusted network (no TLS, no authentication)

Certificates and secrets are *paths*: keys never live in this file (docs/scale-out.md
shows how to make them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from oncofusion.errors import ConfigError

__all__ = ["AuthConfig", "FederatedConfig", "TLSConfig", "load_federated_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TLSConfig(_Strict):
    """Paths of the PEM files for Flower's TLS (gRPC over TLS 1.2+)."""

    ca_cert: Path | None = Field(default=None, description="CA certificate (server and clients)")
    server_cert: Path | None = Field(default=None, description="server certificate (server only)")
    server_key: Path | None = Field(default=None, description="server private key (server only)")

    def server_files(self) -> tuple[bytes, bytes, bytes] | None:
        """``(ca, certificate, key)`` bytes as ``flwr.server.start_server`` wants them, or None."""
        paths = (self.ca_cert, self.server_cert, self.server_key)
        if all(p is None for p in paths):
            return None
        if any(p is None for p in paths):
            raise ConfigError(
                "tls needs all of ca_cert, server_cert and server_key on the server. "
                "Fix: set the three paths (docs/scale-out.md shows how to make them)."
            )
        return tuple(_read(p, "tls") for p in paths)  # type: ignore[return-value, arg-type]

    def client_root(self) -> bytes | None:
        """The CA certificate a client checks the server against, or None."""
        return None if self.ca_cert is None else _read(self.ca_cert, "tls.ca_cert")


class AuthConfig(_Strict):
    """Message authentication between server and sites (a shared secret, never in the YAML)."""

    secret_file: Path | None = Field(default=None, description="file holding the federation's shared secret")

    def secret(self) -> bytes | None:
        if self.secret_file is None:
            return None
        data = _read(self.secret_file, "auth.secret_file").strip()
        if len(data) < 32:
            raise ConfigError(
                f"auth.secret_file '{self.secret_file}' holds {len(data)} bytes; at least 32 are "
                "needed. Fix: python -c \"import secrets; print(secrets.token_hex(32))\" > FILE"
            )
        return data


class FederatedConfig(_Strict):
    """How sites train together (see the module docstring for the YAML)."""

    rounds: int = Field(10, ge=1)
    local_epochs: int = Field(1, ge=1)
    strategy: Literal["fedavg", "fedprox"] = "fedavg"
    mu: float = Field(0.01, ge=0, description="FedProx proximal weight")
    val_fraction: float = Field(0.2, gt=0, lt=1)
    min_sites: int = Field(2, ge=1)
    site_column: str = "site"
    seed: int = 0
    round_timeout: float | None = Field(default=None, gt=0, description="seconds a round waits for sites")
    select: Literal["best", "last"] = Field(
        "best", description="final model: the round with the best site-weighted validation IBS, or the last"
    )
    tls: TLSConfig = Field(default_factory=lambda: TLSConfig())
    auth: AuthConfig = Field(default_factory=lambda: AuthConfig())
    insecure: bool = False

    def check_secure(self, role: Literal["server", "client"]) -> None:
        """Refuse to open a network connection without TLS and authentication unless ``insecure``."""
        if self.insecure:
            return
        missing = []
        if (role == "server" and self.tls.server_files() is None) or (role == "client" and self.tls.ca_cert is None):
            missing.append("TLS certificates (tls.ca_cert" + (", tls.server_cert, tls.server_key)" if role == "server" else ")"))
        if self.auth.secret_file is None:
            missing.append("an authentication secret (auth.secret_file)")
        if missing:
            raise ConfigError(
                f"the federated {role} is secure by default and needs " + " and ".join(missing) + ". "
                "Fix: set them in the --fed-config file (docs/scale-out.md), or pass --insecure on a "
                "trusted test network only."
            )


def _read(path: Path, what: str) -> bytes:
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"{what}: the file '{p}' does not exist. Fix: give the path of an existing file.")
    return p.read_bytes()


def load_federated_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> FederatedConfig:
    """Read a federated config YAML (or the defaults), then apply ``overrides`` (None values skipped).

    Relative certificate and secret paths are taken relative to the YAML file.
    """
    import yaml

    raw: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"federated config '{p}' does not exist. Fix: give the path of a YAML file.")
        try:
            raw = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"federated config '{p}' is not valid YAML: {e}") from e
        if not isinstance(raw, dict):
            raise ConfigError(f"federated config '{p}' must be a mapping of settings.")
        base = p.parent
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        cfg = FederatedConfig.model_validate(raw)
    except ValidationError as e:
        lines = [f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()]
        raise ConfigError(f"federated config is invalid: {'; '.join(lines)}") from e
    for block in (cfg.tls, cfg.auth):
        for name in type(block).model_fields:
            value = getattr(block, name)
            if value is not None and not Path(value).expanduser().is_absolute():
                setattr(block, name, base / value)
    return cfg
