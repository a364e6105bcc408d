"""The syncer's own small asyncio client for the Kubernetes REST API: JSON in, JSON out, watches.

Why this module exists: the sync engine runs inside the server's event loop (push mode) and
alone at the edge from the single-file zipapp (pull mode). The official ``kubernetes`` client is
synchronous, spends a thread per watch and would nearly triple the zipapp, so the engine speaks
HTTP/1.1 itself: ``h11`` (pure Python, already there through uvicorn) does the protocol over
``asyncio.open_connection``, ``orjson`` the bodies. What it owns:

* A keep-alive pool of at most ``max_idle`` idle connections. A request takes an idle one or
  opens its own, so concurrent requests never share one; a connection goes back only when h11
  says the exchange finished cleanly on both sides. A GET that fails on a *reused* connection
  (the server may have dropped it while idle) is retried once on a fresh one, as Go's
  ``net/http`` does.
* Watches on a dedicated connection each, never pooled: newline-delimited JSON events, split
  across chunk boundaries, until the server ends the stream; closing the generator closes the
  socket at once.
* TLS and credentials as client-go uses them (`syncer.kubehttp` owns those and the bytes on
  the wire).

The one exception is `ApiError` (a ``ConfigError`` only when building a client from bad
settings): ``code``/``reason``/``status`` from the server's ``Status`` body, client-go's
generic wording when the body is not one (``NewGenericServerResponse`` in
``k8s.io/apimachinery/pkg/api/errors``), ``code`` None for transport and TLS failures and
timeouts.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncGenerator, Mapping
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import h11
import orjson

from kcp_edge.apimachinery import errors
from syncer.kubeconfig import ClientConfig, ConfigError
from syncer.kubehttp import BearerToken, Connection, bounded, ssl_context

PatchType = Literal["merge", "json", "strategic"]
_Headers = list[tuple[str, str]]

_RETRYABLE_METHODS = frozenset({"GET", "HEAD"})
_PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}
_APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
_TRANSPORT_ERRORS = (OSError, h11.ProtocolError)


class ApiError(errors.ClientError):
    """A request failed: the server's ``code``/``reason``/``status``, or ``code`` None."""

    @property
    def not_found(self) -> bool:
        return self.code == 404

    @property
    def conflict(self) -> bool:
        return self.code == 409

    @property
    def gone(self) -> bool:
        return self.code == 410

    @property
    def transport(self) -> bool:
        """No answer from the server: connection, TLS or protocol failure, or a timeout."""
        return self.code is None


def error_from_response(code: int, method: str, raw: bytes) -> ApiError:
    """client-go's reading of an error answer: its ``Status`` if it has one, else generic words."""
    reason, message, status = errors.read_error_response(code, method, raw)
    return ApiError(message, code=code, reason=reason, status=status)


def _transport_error(where: str, exc: BaseException) -> ApiError:
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = f"tls: failed to verify certificate: {exc.verify_message}"
    elif isinstance(exc, h11.RemoteProtocolError):
        detail = f"malformed HTTP answer: {exc}"
    elif isinstance(exc, h11.LocalProtocolError):
        detail = f"cannot send the request: {exc}"
    else:
        detail = str(exc) or type(exc).__name__
    return ApiError(f"{where}: {detail}")


def _json_object(raw: bytes, code: int, where: str) -> dict[str, Any]:
    try:
        value = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        raise ApiError(f"{where}: the answer ({code}) is not JSON", code=code) from None
    if not isinstance(value, dict):
        raise ApiError(f"{where}: the answer ({code}) is not a JSON object", code=code)
    return value


def _watch_event(line: bytes | bytearray, where: str) -> dict[str, Any]:
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise ApiError(f"{where}: a watch event that is not JSON: {bytes(line[:200])!r}") from None
    if not isinstance(event, dict) or "type" not in event:
        raise ApiError(f"{where}: a watch event without a type: {bytes(line[:200])!r}")
    return event


# --- the client ------------------------------------------------------------------------------


class KubeClient:
    """JSON requests and watches against one API server; safe for many tasks of one loop."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        user_agent: str,
        max_idle: int = 4,
        timeout: float = 30.0,
    ) -> None:
        url = urlsplit(config.server)
        try:
            port = url.port
        except ValueError:
            raise ConfigError(f"invalid server URL {config.server!r}") from None
        if url.scheme not in ("https", "http") or not url.hostname:
            raise ConfigError(f"invalid server URL {config.server!r}")
        tls = url.scheme == "https"
        self._config = config
        self._host = url.hostname
        self._port = port or (443 if tls else 80)
        host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
        self._authority = f"{host}:{port}" if port else host
        self._origin = f"{url.scheme}://{self._authority}"
        self._base_path = url.path.rstrip("/")
        self._tls = ssl_context(config) if tls else None
        self._server_hostname = (config.tls_server_name or url.hostname) if tls else None
        self._token = BearerToken(config.token, config.token_file)
        self._user_agent = user_agent
        self._max_idle = max_idle
        self._timeout = timeout
        self._idle: list[Connection] = []
        self._opened = 0

    @property
    def config(self) -> ClientConfig:
        return self._config

    @property
    def base_path(self) -> str:
        """The path part of the server URL (``/clusters/root:org``), ``""`` if none."""
        return self._base_path

    @property
    def idle_connections(self) -> int:
        """Connections in the keep-alive pool now."""
        return len(self._idle)

    @property
    def connections_opened(self) -> int:
        """Connections opened since the client was made (watches included)."""
        return self._opened

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the idle connections (the client stays usable; watches close themselves)."""
        idle, self._idle = self._idle, []
        await asyncio.gather(*(conn.close() for conn in idle))

    # --- requests ----------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """One request; the JSON object of a 2xx answer (``{}`` if empty), else `ApiError`."""
        target = self._target(path, query)
        where = self._where(method, target)
        headers = self._headers(body, content_type)
        limit = self._timeout if timeout is None else timeout
        try:
            code, raw = await bounded(self._exchange(method, target, headers, body), limit)
        except TimeoutError:
            raise ApiError(f"{where}: no answer within {limit:g} s") from None
        except _TRANSPORT_ERRORS as exc:
            raise _transport_error(where, exc) from exc
        if not 200 <= code < 300:
            raise error_from_response(code, method, raw)
        return _json_object(raw, code, where)

    async def get(self, path: str, query: Mapping[str, str] | None = None) -> dict[str, Any]:
        return await self.request("GET", path, query=query)

    async def list(self, path: str, query: Mapping[str, str] | None = None) -> dict[str, Any]:
        return await self.request("GET", path, query=query)

    async def create(
        self, path: str, obj: Mapping[str, Any], *, query: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        return await self.request("POST", path, query=query, body=orjson.dumps(obj))

    async def replace(
        self, path: str, obj: Mapping[str, Any], *, query: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        return await self.request("PUT", path, query=query, body=orjson.dumps(obj))

    async def patch(
        self,
        path: str,
        body: Any,
        patch_type: PatchType = "merge",
        *,
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        content_type = _PATCH_CONTENT_TYPES[patch_type]
        payload = orjson.dumps(body)
        return await self.request(
            "PATCH", path, query=query, body=payload, content_type=content_type
        )

    async def apply(
        self, path: str, obj: Mapping[str, Any], *, field_manager: str, force: bool = True
    ) -> dict[str, Any]:
        """Server-side apply of ``obj`` (JSON is YAML) as ``field_manager``."""
        query = {"fieldManager": field_manager}
        if force:
            query["force"] = "true"
        return await self.request(
            "PATCH", path, query=query, body=orjson.dumps(obj), content_type=_APPLY_CONTENT_TYPE
        )

    async def delete(
        self,
        path: str,
        *,
        propagation_policy: str | None = None,
        preconditions_uid: str | None = None,
    ) -> dict[str, Any]:
        """DELETE ``path``, with DeleteOptions when an option is given; 404 is an `ApiError`."""
        options: dict[str, Any] = {}
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        if preconditions_uid is not None:
            options["preconditions"] = {"uid": preconditions_uid}
        body = None
        if options:
            body = orjson.dumps({"kind": "DeleteOptions", "apiVersion": "v1", **options})
        return await self.request("DELETE", path, body=body)

    # --- watches -----------------------------------------------------------------------------

    async def watch(
        self, path: str, query: Mapping[str, str], *, idle_timeout: float | None = None
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The events (``{"type": ..., "object": ...}``) of a watch until the server ends it.

        An error status raises `ApiError`; so does ``idle_timeout`` seconds without data (none by
        default: ``timeoutSeconds`` in ``query`` bounds a watch on the server side).
        """
        target = self._target(path, {**query, "watch": "1"})
        where = self._where("GET", target)
        headers = self._headers(None, None)
        try:
            conn, response = await bounded(self._start_watch(target, headers), self._timeout)
        except TimeoutError:
            raise ApiError(f"{where}: no answer within {self._timeout:g} s") from None
        except _TRANSPORT_ERRORS as exc:
            raise _transport_error(where, exc) from exc
        try:
            if not 200 <= response.status_code < 300:
                raw = await bounded(conn.body(), self._timeout)
                raise error_from_response(response.status_code, "GET", raw)
            pending = bytearray()
            while not isinstance(event := await conn.next_event(idle_timeout), h11.EndOfMessage):
                if not isinstance(event, h11.Data):
                    continue
                pending += event.data
                *lines, rest = pending.split(b"\n")
                pending = rest
                for line in lines:
                    if line.strip():
                        yield _watch_event(line, where)
            if pending.strip():
                yield _watch_event(pending, where)
        except TimeoutError:
            raise ApiError(f"{where}: no data within {idle_timeout or self._timeout:g} s") from None
        except _TRANSPORT_ERRORS as exc:
            raise _transport_error(where, exc) from exc
        finally:
            conn.abort()

    async def _start_watch(self, target: str, headers: _Headers) -> tuple[Connection, h11.Response]:
        conn = await self._open()
        try:
            await conn.send(h11.Request(method="GET", target=target, headers=headers), None)
            return conn, await conn.response()
        except BaseException:
            conn.abort()
            raise

    # --- plumbing ----------------------------------------------------------------------------

    def _target(self, path: str, query: Mapping[str, str] | None) -> str:
        if not path.startswith("/"):
            raise ValueError(f"request paths start with '/': {path!r}")
        target = self._base_path + path
        if query:
            target += ("&" if "?" in path else "?") + urlencode(query)
        return target

    def _where(self, method: str, target: str) -> str:
        return f"{method.capitalize()} {json.dumps(self._origin + target)}"

    def _headers(self, body: bytes | None, content_type: str | None) -> _Headers:
        headers = [
            ("Host", self._authority),
            ("User-Agent", self._user_agent),
            ("Accept", "application/json"),
        ]
        try:
            token = self._token.current()
        except OSError as exc:
            raise ApiError(str(exc)) from exc
        if token:
            headers.append(("Authorization", f"Bearer {token}"))
        if body is not None:
            headers.append(("Content-Type", content_type or "application/json"))
            headers.append(("Content-Length", str(len(body))))
        return headers

    async def _exchange(
        self, method: str, target: str, headers: _Headers, body: bytes | None
    ) -> tuple[int, bytes]:
        conn = await self._acquire()
        try:
            return await self._round_trip(conn, method, target, headers, body)
        except _TRANSPORT_ERRORS:
            if not conn.reused or method not in _RETRYABLE_METHODS:
                raise
        return await self._round_trip(await self._open(), method, target, headers, body)

    async def _round_trip(
        self,
        conn: Connection,
        method: str,
        target: str,
        headers: _Headers,
        body: bytes | None,
    ) -> tuple[int, bytes]:
        try:
            await conn.send(h11.Request(method=method, target=target, headers=headers), body)
            response = await conn.response()
            raw = await conn.body()
        except BaseException:
            conn.abort()
            raise
        self._release(conn)
        return response.status_code, raw

    async def _acquire(self) -> Connection:
        while self._idle:
            conn = self._idle.pop()
            if conn.alive():
                return conn
            conn.abort()
        return await self._open()

    async def _open(self) -> Connection:
        reader, writer = await asyncio.open_connection(
            self._host, self._port, ssl=self._tls, server_hostname=self._server_hostname
        )
        self._opened += 1
        return Connection(reader, writer)

    def _release(self, conn: Connection) -> None:
        # Surplus connections are aborted rather than closed: a TLS close waits for the peer's
        # close_notify, and a loop that stops first would leave the socket open.
        if conn.finish_cycle() and len(self._idle) < self._max_idle:
            conn.reused = True
            self._idle.append(conn)
        else:
            conn.abort()
