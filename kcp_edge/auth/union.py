"""Authenticating a bearer token against every configured source, and slowing down guessers.

Why this module exists: a server has several ways to know a caller (the admin token, a
``--token-auth-file``, service-account JWTs) and the request path must ask them in one place,
in a fixed order, and get one answer. This module owns that answer, `Authenticated` (the user
plus what Kubernetes' ``user.Info`` carries beyond `UserInfo`: uid, extra, and for service
accounts the logical cluster), the `UnionAuthenticator` that asks the sources, and the
`FailedAuthLimiter` that turns a flood of bad credentials from one client into 429s.

Rules, as Kubernetes' union authenticator and kcp have them:

* a verified client certificate (``--client-ca-file``) comes first and, with a common name,
  decides: a bearer token sent alongside is not looked at. A certificate without CN is nobody's
  (the token decides); one that does not verify is 401 unless a token authenticates.
* a source answers ``None`` when the token is not its kind (not in the file, not a JWT of our
  issuer); the next source is asked. A token no source recognises is unauthenticated (401).
* a source raises `TokenRejectedError` when the token *is* its kind but is bad (tampered, expired,
  for another audience or workspace). That ends the search: 401, no other source is asked.
* every authenticated user carries the group ``system:authenticated`` (the sources add it).
* the limiter counts guesses: tokens nobody recognises and recognised ones that fail their own
  checks (signature, claims). A genuine token used out of its scope (`OutOfScopeTokenError`:
  another workspace or audience, expired) is refused but not counted: nobody can make one by
  guessing, and a client with a stale token must keep getting 401, which tells it to
  re-authenticate.

Everything here is pure: no I/O, clocks are injected, nothing is logged (tokens must never reach
a log). It is meant for one event loop; the limiter is not thread-safe.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kcp_edge.auth import TokenAuthenticator, UserInfo

AUTHENTICATED_GROUP = "system:authenticated"
"""The group every authenticated user is in (Kubernetes' ``AuthenticatedGroupAdder``)."""

CLUSTER_NAME_EXTRA = "authentication.kubernetes.io/cluster-name"
"""User extra key with a service account's logical cluster (kcp 2022's name for it)."""


def with_authenticated_group(groups: Sequence[str]) -> tuple[str, ...]:
    """``groups`` without duplicates, ending with ``system:authenticated`` (added if missing)."""
    unique = tuple(dict.fromkeys(g for g in groups if g))
    return unique if AUTHENTICATED_GROUP in unique else (*unique, AUTHENTICATED_GROUP)


@dataclass(frozen=True, slots=True)
class Authenticated:
    """Who a credential proved the caller to be, with what Kubernetes' ``user.Info`` adds."""

    user: UserInfo
    source: str
    """Which source recognised the credential: ``admin``, ``token-file``, ``service-account``,
    ``x509`` (for logs and metrics; never the credential itself)."""
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    cluster: str | None = None
    """The logical cluster a service account belongs to; None for users, who are global."""


class TokenRejectedError(Exception):
    """A source recognised the token as its own and found it invalid (answer 401).

    The message says why, for the server log; it never contains the token, and the client
    only ever sees ``Unauthorized``.
    """


class OutOfScopeTokenError(TokenRejectedError):
    """A genuine token (its signature checks out) refused for where or when it is used.

    Still 401, but not a guess: `FailedAuthLimiter` does not count it.
    """


class CertificateRejectedError(Exception):
    """A client certificate chain that does not verify; the message says why (for the log)."""


class CertificateSource(Protocol):
    """Who a TLS peer is, from the chain it presented (DER, leaf first).

    Returns None for a certificate that names nobody (no common name), raises
    `CertificateRejectedError` for a chain that does not verify.
    """

    def authenticate_chain(self, chain: Sequence[bytes]) -> Authenticated | None: ...


class TokenSource(Protocol):
    """One source of identities for bearer tokens.

    ``cluster`` is the logical cluster the request is for (service-account tokens are only
    valid in their own). Returns None for a token that is not this source's kind, raises
    `TokenRejectedError` for one that is but is not valid.
    """

    def authenticate(self, token: str, *, cluster: str) -> Authenticated | None: ...


@dataclass(frozen=True)
class PlainTokenSource:
    """Adapts a `TokenAuthenticator` (such as the admin token) to a `TokenSource`."""

    authenticator: TokenAuthenticator
    source: str

    def authenticate(self, token: str, *, cluster: str) -> Authenticated | None:
        user = self.authenticator.authenticate_token(token)
        if user is None:
            return None
        groups = with_authenticated_group(user.groups)
        return Authenticated(user=UserInfo(user.name, groups), source=self.source)


@dataclass(frozen=True, slots=True)
class Refused:
    """The request is refused: 401, or 429 with ``Retry-After: retry_after`` when set.

    ``why`` is for the server log (never holds a credential); the client sees none of it.
    """

    why: str
    retry_after: int | None = None


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a request carries to prove who sent it."""

    client: str
    """The peer's address: failed tries are counted per address."""
    cluster: str
    """The logical cluster the request is for (service-account tokens only work in theirs)."""
    token: str | None = None
    """The bearer token; None without one."""
    certificate_chain: Sequence[bytes] = ()
    """The TLS peer's certificates (DER, leaf first); empty without a client certificate."""


@dataclass(frozen=True)
class UnionAuthenticator:
    """Asks each source in order; the first that recognises the credential decides.

    ``certificates`` verifies client certificates (None: they are ignored); ``limiter`` slows
    down clients that keep failing (None: no limit).
    """

    sources: Sequence[TokenSource]
    certificates: CertificateSource | None = None
    limiter: FailedAuthLimiter | None = None

    def authenticate_request(self, credentials: Credentials) -> Authenticated | Refused | None:
        """Who sent a request: the caller, `Refused` (401 or 429), or None for anonymous."""
        refused: Refused | None = None
        if credentials.certificate_chain and self.certificates is not None:
            try:
                found = self.certificates.authenticate_chain(credentials.certificate_chain)
            except CertificateRejectedError as exc:
                refused = Refused(f"client certificate refused: {exc}")
            else:
                if found is not None:
                    return found
        if not credentials.token:
            return refused
        return self._from_token(credentials.token, credentials.cluster, credentials.client)

    def _from_token(self, token: str, cluster: str, client: str) -> Authenticated | Refused:
        limiter = self.limiter
        if limiter is not None:
            wait = limiter.retry_after(client)
            if wait is not None:  # not even looked at: a guesser learns nothing
                return Refused(f"too many failed authentications from {client}", wait)
        try:
            found = self.authenticate_or_reject(token, cluster=cluster)
        except OutOfScopeTokenError as exc:
            return Refused(f"authentication refused: {exc}")
        except TokenRejectedError as exc:
            why = f"authentication refused: {exc}"
        else:
            if found is not None:
                return found
            why = "authentication refused: unknown token"
        if limiter is not None:
            limiter.record_failure(client)
        return Refused(why)

    def authenticate(self, token: str, *, cluster: str) -> Authenticated | None:
        """The caller behind ``token`` in ``cluster``, or None for 401 (unknown or invalid).

        An empty token is never anybody's. Use `authenticate_or_reject` to learn why a
        recognised token was refused (for the log).
        """
        try:
            return self.authenticate_or_reject(token, cluster=cluster)
        except TokenRejectedError:
            return None

    def authenticate_or_reject(self, token: str, *, cluster: str) -> Authenticated | None:
        """As `authenticate`, but a recognised, invalid token raises `TokenRejectedError`."""
        if not token:
            return None
        for source in self.sources:
            found = source.authenticate(token, cluster=cluster)
            if found is not None:
                return found
        return None


@dataclass
class _Bucket:
    tokens: float
    updated: float


class FailedAuthLimiter:
    """A token bucket of failed authentications per client address.

    Each client may fail ``max_failures`` times in a burst; the bucket refills at
    ``max_failures`` per ``per_seconds``. Once it is empty, the server answers 429 with
    ``Retry-After: <retry_after(...)>`` *before* looking at the credential, so a guesser learns
    nothing from further tries. Successes do not refill the bucket (one valid token must not
    unlock guessing others). At most ``max_clients`` addresses are remembered: buckets that have
    refilled completely are dropped first, then the least recently failing ones.

    Usage per request: ``wait = limiter.retry_after(ip)``; if not None answer 429; else
    authenticate, and on failure ``limiter.record_failure(ip)``.
    """

    def __init__(
        self,
        *,
        max_failures: int = 10,
        per_seconds: float = 60.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_failures < 1 or per_seconds <= 0 or max_clients < 1:
            raise ValueError("max_failures, per_seconds and max_clients must be positive")
        self._capacity = float(max_failures)
        self._per_seconds = per_seconds
        self._max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def retry_after(self, client: str) -> int | None:
        """Whole seconds the client must wait before its next try, or None if it may try now."""
        bucket = self._refilled(client)
        if bucket is None or bucket.tokens >= 1.0:
            return None
        wait = (1.0 - bucket.tokens) * self._per_seconds / self._capacity
        return max(1, math.ceil(wait - 1e-9))  # 1e-9: float noise must not add a second

    def record_failure(self, client: str) -> None:
        """Count one failed authentication by ``client``."""
        bucket = self._refilled(client)
        if bucket is None:
            self._make_room()
            bucket = _Bucket(self._capacity, self._clock())
            self._buckets[client] = bucket
        bucket.tokens = max(0.0, bucket.tokens - 1.0)
        self._buckets.move_to_end(client)

    def _refilled(self, client: str) -> _Bucket | None:
        bucket = self._buckets.get(client)
        if bucket is None:
            return None
        now = self._clock()
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(self._capacity, bucket.tokens + self._refill(elapsed))
        bucket.updated = now
        if bucket.tokens >= self._capacity:
            del self._buckets[client]  # forgiven: it is as if the client never failed
            return None
        return bucket

    def _refill(self, elapsed: float) -> float:
        return elapsed * self._capacity / self._per_seconds

    def _make_room(self) -> None:
        if len(self._buckets) < self._max_clients:
            return
        now = self._clock()
        full = [
            client
            for client, b in self._buckets.items()
            if b.tokens + self._refill(max(0.0, now - b.updated)) >= self._capacity
        ]
        for client in full:
            del self._buckets[client]
        while len(self._buckets) >= self._max_clients:
            self._buckets.popitem(last=False)


__all__ = [
    "AUTHENTICATED_GROUP",
    "CLUSTER_NAME_EXTRA",
    "Authenticated",
    "CertificateRejectedError",
    "CertificateSource",
    "Credentials",
    "FailedAuthLimiter",
    "OutOfScopeTokenError",
    "PlainTokenSource",
    "Refused",
    "TokenRejectedError",
    "TokenSource",
    "UnionAuthenticator",
    "with_authenticated_group",
]
