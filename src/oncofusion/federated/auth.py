"""Message authentication between the server and the sites (HMAC-SHA256, a shared secret).

Flower's own node authentication (elliptic-curve keys, ``flower-superlink
--enable-supernode-auth``) belongs to its Deployment Engine; the gRPC transport of
``flwr.server.start_server`` / ``flwr.client.start_client`` that the client/server mode uses
does not support it. So every message carries a MAC over what it says:

* server to site: ``HMAC(secret, "server" | kind | round | nonce | config | digest(weights))``
  with a fresh random ``nonce`` per message, checked by the site before it trains;
* site to server: ``HMAC(secret, "site" | kind | round | nonce | site | n | loss | metrics |
  digest(weights))`` echoing that nonce, checked by the server, which drops (and logs)
  any result that fails, so only holders of the secret contribute, and an old reply cannot
  be replayed into a later round.

TLS (Flower's ``certificates``/``root_certificates``) encrypts the channel and proves the
server's identity; the MAC proves each message's author and integrity.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from oncofusion.errors import OncofusionError

__all__ = ["MAC_KEY", "NONCE_KEY", "AuthenticationError", "digest", "new_nonce", "sign", "verify"]

MAC_KEY = "oncofusion_mac"
NONCE_KEY = "oncofusion_nonce"


class AuthenticationError(OncofusionError):
    """A message whose MAC is missing or wrong (wrong secret, tampered, or replayed)."""


def digest(arrays: Sequence[np.ndarray]) -> str:
    """SHA-256 over the dtype, shape and bytes of each array, in order."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def new_nonce() -> str:
    return secrets.token_hex(16)


def _canonical(fields: Mapping[str, Any]) -> bytes:
    clean = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in fields.items() if k != MAC_KEY}
    return json.dumps(clean, sort_keys=True, separators=(",", ":")).encode()


def sign(secret: bytes, role: str, kind: str, fields: Mapping[str, Any], arrays: Sequence[np.ndarray] = ()) -> str:
    """The MAC of a message: ``role`` (``server``/``site``), ``kind`` (``fit``, ``evaluate``,
    ``properties``), its scalar ``fields`` (config or metrics, nonce and round included)
    and the ``arrays`` it carries."""
    msg = b"|".join([role.encode(), kind.encode(), _canonical(fields), digest(arrays).encode()])
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()


def verify(secret: bytes, role: str, kind: str, fields: Mapping[str, Any], arrays: Sequence[np.ndarray] = (),
           *, nonce: str | None = None) -> None:
    """Raise :class:`AuthenticationError` unless ``fields[MAC_KEY]`` is the right MAC (constant
    time) and, when given, ``fields[NONCE_KEY]`` echoes ``nonce``."""
    mac = fields.get(MAC_KEY)
    if not isinstance(mac, str):
        raise AuthenticationError(f"{kind} message from the {role} carries no MAC (is authentication "
                                  "configured on both ends? auth.secret_file)")
    if nonce is not None and fields.get(NONCE_KEY) != nonce:
        raise AuthenticationError(f"{kind} message from the {role} answers another request (nonce mismatch)")
    if not hmac.compare_digest(mac, sign(secret, role, kind, fields, arrays)):
        raise AuthenticationError(f"{kind} message from the {role} failed authentication (wrong secret or altered)")
