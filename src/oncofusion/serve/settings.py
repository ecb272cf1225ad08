"""Settings of the scoring service, read from the environment (or given explicitly).

=================================  ===========================================  =====================
environment variable               meaning                                      default
=================================  ===========================================  =====================
``ONCOFUSION_TOKEN``               the bearer token clients must send           (one of the two
``ONCOFUSION_TOKEN_FILE``          file of tokens, one per line (``TOKEN`` or    token settings is
                                   ``CLIENT_NAME TOKEN``)                       required)
``ONCOFUSION_DATABASE_URL``        SQLAlchemy URL of the registry / audit        ``sqlite:///`` file in
                                   database (``postgresql+psycopg://...``)       the state directory
``ONCOFUSION_STATE_DIR``           where the default SQLite file and the         ``./oncofusion-serve``
                                   image store live
``ONCOFUSION_IMAGE_ROOT``          folder that image paths in records are        ``STATE_DIR/images``
                                   relative to; uploads are stored under it
``ONCOFUSION_MODEL_CHECKSUM``      expected run checksum (SHA-256 of the run's   not checked
                                   ``checksums.json``); the service refuses
                                   another model
``ONCOFUSION_MAX_REQUEST_BYTES``   largest JSON request body                     1 MiB
``ONCOFUSION_MAX_UPLOAD_BYTES``    largest multipart (image upload) body         64 MiB
``ONCOFUSION_MAX_BATCH``           most patient records in one request           64
``ONCOFUSION_MAX_VISITS``          most visits in one record                     1000
``ONCOFUSION_MAX_IMAGES``          most images (files) in one request            16
``ONCOFUSION_MAX_IMAGE_SIDE``      largest size of any image axis (voxels)       1024
``ONCOFUSION_MAX_IMAGE_VOXELS``    largest number of voxels of one image         33,554,432 (2**25)
=================================  ===========================================  =====================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from oncofusion.errors import ConfigError

__all__ = ["ENV_PREFIX", "ServeSettings"]

ENV_PREFIX = "ONCOFUSION_"

#: settings field -> environment variable (without the prefix)
_ENV_FIELDS = {
    "token": "TOKEN",
    "token_file": "TOKEN_FILE",
    "database_url": "DATABASE_URL",
    "state_dir": "STATE_DIR",
    "image_root": "IMAGE_ROOT",
    "model_checksum": "MODEL_CHECKSUM",
    "max_request_bytes": "MAX_REQUEST_BYTES",
    "max_upload_bytes": "MAX_UPLOAD_BYTES",
    "max_batch": "MAX_BATCH",
    "max_visits": "MAX_VISITS",
    "max_images": "MAX_IMAGES",
    "max_image_side": "MAX_IMAGE_SIDE",
    "max_image_voxels": "MAX_IMAGE_VOXELS",
}


class ServeSettings(BaseModel):
    """Everything the service needs besides the run directory.

    Build with :meth:`from_env`; explicit keyword arguments override the environment.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: str | None = Field(None, repr=False, description="bearer token (client name 'default')")
    token_file: Path | None = Field(None, description="file of tokens: 'TOKEN' or 'CLIENT_NAME TOKEN' per line")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite file in state_dir")
    state_dir: Path = Field(Path("oncofusion-serve"), description="default SQLite file and image store")
    image_root: Path | None = Field(None, description="image paths in records are relative to it")
    model_checksum: str | None = Field(None, pattern=r"^[0-9a-f]{64}$", description="expected run checksum")
    max_request_bytes: int = Field(1 << 20, ge=1024)
    max_upload_bytes: int = Field(64 << 20, ge=1024)
    max_batch: int = Field(64, ge=1)
    max_visits: int = Field(1000, ge=1)
    max_images: int = Field(16, ge=0)
    max_image_side: int = Field(1024, ge=2)
    max_image_voxels: int = Field(1 << 25, ge=8)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> ServeSettings:
        """Settings from ``ONCOFUSION_*`` variables of ``env`` (default ``os.environ``).

        ``overrides`` that are not None win over the environment.

        Raises
        ------
        ConfigError
            When a value is invalid; the message names the variable.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for field, var in _ENV_FIELDS.items():
            raw = env.get(ENV_PREFIX + var)
            if raw is not None and raw.strip() != "":
                values[field] = raw.strip()
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(values)
        except ValidationError as e:
            problems = []
            for err in e.errors():
                field = str(err["loc"][0]) if err["loc"] else "?"
                source = (
                    f"{ENV_PREFIX}{_ENV_FIELDS[field]}"
                    if field in _ENV_FIELDS and field not in overrides
                    else field
                )
                problems.append(f"{source}: {err['msg']}")
            raise ConfigError("invalid service settings: " + "; ".join(problems) + ".") from None

    # ------------------------------------------------------------------ derived
    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to ``sqlite:///STATE_DIR/registry.sqlite``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.state_dir / 'registry.sqlite').resolve()}"

    @property
    def resolved_image_root(self) -> Path:
        """The image root (created if missing)."""
        root = (self.image_root or self.state_dir / "images").resolve()
        return root

    def limits(self) -> dict[str, int]:
        """The request limits, as reported by ``GET /model``."""
        return {
            "max_request_bytes": self.max_request_bytes,
            "max_upload_bytes": self.max_upload_bytes,
            "max_batch": self.max_batch,
            "max_visits": self.max_visits,
            "max_images": self.max_images,
            "max_image_side": self.max_image_side,
            "max_image_voxels": self.max_image_voxels,
        }
