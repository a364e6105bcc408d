"""The admin bearer token that ``kcp start`` writes into ``admin.kubeconfig``.

Why this module exists: the first user of a fresh server needs a credential before any identity
system is configured. As kcp does, the server makes a random token, keeps only its SHA-256 on
disk (``<root>/.admin-token-store``, mode 0600), and hands the token itself out through the admin
kubeconfig. On restart the token is read back from that kubeconfig and reused if its hash still
matches, so kubeconfigs copied elsewhere keep working; if it does not match, start fails rather
than minting a new token behind the user's back. The token authenticates as ``system:apiserver``
in group ``system:masters``. Comparisons are constant-time over the hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from kcp_edge.auth import UserInfo
from kcp_edge.auth.pki import write_file_atomically

ADMIN_USER = UserInfo(name="system:apiserver", groups=("system:masters",))
"""Who the admin token authenticates as (member of ``system:masters``, which bypasses authz)."""


class AdminTokenError(Exception):
    """The admin token cannot be set up; the message is meant for the user as is."""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class AdminToken:
    """The admin token of this server and the authenticator that accepts it."""

    token: str = field(repr=False)
    new: bool = False
    """Made by this start: its hash still has to be written with `save_admin_token_hash`."""
    _hash: bytes = field(repr=False, compare=False, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", _digest(self.token))

    def authenticate_token(self, token: str) -> UserInfo | None:
        if hmac.compare_digest(_digest(token), self._hash):
            return ADMIN_USER
        return None


def bootstrap_admin_token(
    *, hash_file: Path, kubeconfig_path: Path, existing_token: str | None
) -> AdminToken:
    """Reuse the token found in the kubeconfig, or make a new one.

    ``existing_token`` is the admin user's token read from ``kubeconfig_path`` (None if there is
    none). With no hash file a new token is made (``new``); write it to the kubeconfig first,
    then its hash with `save_admin_token_hash`, so that a failure in between heals on the next
    start. With a hash file the existing token must match it, or `AdminTokenError` says how to
    recover.
    """
    try:
        stored = hash_file.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        stored = None
    except (OSError, UnicodeDecodeError) as exc:
        raise AdminTokenError(f"cannot read the admin token hash file {hash_file}: {exc}") from exc
    if stored is None:
        return AdminToken(str(uuid.uuid4()), new=True)
    if existing_token is not None and hmac.compare_digest(
        _digest(existing_token).hex().encode(), stored.lower().encode()
    ):
        return AdminToken(existing_token)
    raise AdminTokenError(
        f"admin token in file {kubeconfig_path} is not valid anymore. "
        f"Remove file {hash_file} and restart KCP"
    )


def save_admin_token_hash(hash_file: Path, token: AdminToken) -> None:
    """Remember ``token`` by its SHA-256 (hex) in ``hash_file``, mode 0600."""
    write_file_atomically(hash_file, _digest(token.token).hex().encode() + b"\n", mode=0o600)
