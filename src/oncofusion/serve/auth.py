"""Bearer-token authentication, compared in constant time.

Tokens come from ``ONCOFUSION_TOKEN`` (client name ``default``) and/or a token file with
one token per line, either ``TOKEN`` or ``CLIENT_NAME TOKEN`` (blank lines and ``#``
comments ignored). The client name of the matching token is what the audit trail records
as the requesting client. Every configured token is compared with
:func:`hmac.compare_digest`, without stopping at the first match, so the time taken does
not tell an attacker how much of a token was right, nor which token matched; both sides
are hashed with SHA-256 first, so the token's length does not show either.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from oncofusion.errors import ConfigError

__all__ = ["MIN_TOKEN_LENGTH", "TokenStore"]

log = logging.getLogger("oncofusion.serve")

#: shortest accepted token (characters); a short token can be guessed
MIN_TOKEN_LENGTH = 16
_CLIENT_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


@dataclass(frozen=True)
class _Token:
    client: str
    digest: bytes  # SHA-256 of the token: every comparison is between 32-byte strings


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenStore:
    """The accepted tokens and the client each one identifies.

    Parameters
    ----------
    tokens
        ``(client_name, token)`` pairs.

    Raises
    ------
    ConfigError
        No token, a token shorter than :data:`MIN_TOKEN_LENGTH`, an invalid client name or
        a token given twice.
    """

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        if not tokens:
            raise ConfigError(
                "the scoring service needs a token: every route but /health requires one. "
                "Fix: set ONCOFUSION_TOKEN (at least 16 random characters, e.g. from "
                "'python -c \"import secrets; print(secrets.token_urlsafe(32))\"') or "
                "ONCOFUSION_TOKEN_FILE."
            )
        seen: set[str] = set()
        self._tokens: list[_Token] = []
        for client, token in tokens:
            if not _CLIENT_NAME.match(client):
                raise ConfigError(
                    f"client name '{client}' is invalid: use 1-64 letters, digits or '_.@-'."
                )
            if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
                raise ConfigError(
                    f"the token of client '{client}' is shorter than {MIN_TOKEN_LENGTH} characters "
                    "or contains spaces. Fix: use a long random token such as "
                    "secrets.token_urlsafe(32)."
                )
            if token in seen:
                raise ConfigError(f"a token is given twice (client '{client}'). Fix: give each client its own token.")
            seen.add(token)
            self._tokens.append(_Token(client, _digest(token)))

    @classmethod
    def from_settings(cls, token: str | None, token_file: Path | None) -> TokenStore:
        """Tokens from the ``ONCOFUSION_TOKEN`` value and the token file."""
        pairs: list[tuple[str, str]] = []
        if token:
            pairs.append(("default", token))
        if token_file is not None:
            pairs.extend(read_token_file(Path(token_file)))
        return cls(pairs)

    def client_for(self, presented: str | None) -> str | None:
        """The client name of ``presented``, or None when it matches no token."""
        if not presented:
            return None
        given = _digest(presented)
        found: str | None = None
        for tok in self._tokens:  # no early exit: constant in the position of the match
            if hmac.compare_digest(given, tok.digest):
                found = tok.client
        return found

    @property
    def clients(self) -> list[str]:
        return [t.client for t in self._tokens]

    def __repr__(self) -> str:  # never show the secrets
        return f"TokenStore(clients={self.clients})"


def read_token_file(path: Path) -> list[tuple[str, str]]:
    """Parse a token file (see the module docstring).

    Raises
    ------
    ConfigError
        The file is missing or a line has more than two fields.
    """
    try:
        text = path.read_text()
        mode = path.stat().st_mode
    except OSError as e:
        raise ConfigError(f"token file '{path}' cannot be read ({e.strerror}). Fix: check ONCOFUSION_TOKEN_FILE.") from e
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("token file %s is readable by other users; restrict it with chmod 600", path)
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) == 1:
            pairs.append((f"token-{number}", fields[0]))
        elif len(fields) == 2:
            pairs.append((fields[0], fields[1]))
        else:
            raise ConfigError(
                f"token file '{path}' line {number} has {len(fields)} fields; expected 'TOKEN' or "
                "'CLIENT_NAME TOKEN'."
            )
    return pairs
