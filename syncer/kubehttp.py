"""HTTP/1.1 connections for `syncer.kubeclient`: TLS as client-go sets it up, h11, bearer tokens.

Why this module exists: the client (`syncer.kubeclient`) decides what to send and what an answer
means; this module owns the bytes on the wire, so the client reads as requests and the protocol
details stay in one place:

* `ssl_context`: only the config's CA when one is given (else the system's), ``insecure`` turns
  verification off, a client certificate is loaded through a private temporary directory (``ssl``
  reads certificates from files only) that is removed at once. Bad settings are a `ConfigError`.
* `Connection`: one ``asyncio`` stream with its ``h11`` state machine, able to say whether it can
  carry another request (keep-alive) and to be aborted at once (watches, errors).
* `BearerToken`: fixed, or read from ``token_file`` and looked at again when the copy is older
  than 60 s (bound service-account tokens rotate in pods; client-go re-reads them too).

* `bounded`: a time limit on an awaitable that never eats a cancellation. ``asyncio.wait_for``
  (3.10, 3.11) returns the inner result when the inner awaitable finishes in the same loop step
  as the caller is cancelled, and the cancellation is lost: a syncer told to stop (SIGTERM, a
  push engine's ``stop()``) went on with the next request and never stopped.

Failures here are ``OSError`` (``ssl`` errors included) or ``h11.ProtocolError``; the client
turns them into its `ApiError`.
"""

from __future__ import annotations

import asyncio
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import h11

from syncer.kubeconfig import ClientConfig, ConfigError

TOKEN_FILE_MAX_AGE = 60.0
"""Seconds a token read from ``token_file`` is used before the file is looked at again."""
_READ_SIZE = 65536
_CLOSE_TIMEOUT = 1.0
_T = TypeVar("_T")


async def bounded(awaitable: Awaitable[_T], seconds: float | None) -> _T:
    """``await awaitable``, or `TimeoutError` after ``seconds`` (None: no limit); a cancellation
    of the caller always propagates, and the inner work is cancelled and awaited first."""
    if seconds is None:
        return await awaitable
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise
    if not done:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise TimeoutError
    return task.result()


# --- TLS and credentials ---------------------------------------------------------------------


def ssl_context(config: ClientConfig) -> ssl.SSLContext:
    """The TLS settings of ``config``: trusted CAs, verification, client certificate."""
    try:
        cadata = config.ca_pem.decode("ascii") if config.ca_pem is not None else None
        context = ssl.create_default_context(cadata=cadata)
    except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(
            f"server {config.server}: cannot load the CA certificates: {exc}"
        ) from None
    if config.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if config.client_cert_pem is not None:
        if config.client_key_pem is None:
            raise ConfigError(f"server {config.server}: a client certificate without its key")
        try:
            load_client_certificate(context, config.client_cert_pem, config.client_key_pem)
        except ssl.SSLError as exc:
            raise ConfigError(f"cannot load the client certificate and key: {exc}") from None
    return context


def load_client_certificate(context: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    """Load a client certificate and key given as PEM bytes: ``ssl`` reads them from files
    only, so they pass through a private (0700) temporary directory, removed at once. Raises
    ``ssl.SSLError`` for a bad pair (the kubectl plugins share this)."""
    with tempfile.TemporaryDirectory(prefix="kcp-edge-") as tmp:
        cert_file, key_file = Path(tmp) / "client.crt", Path(tmp) / "client.key"
        cert_file.write_bytes(cert_pem)
        key_file.touch(mode=0o600)
        key_file.write_bytes(key_pem)
        context.load_cert_chain(cert_file, key_file)


class BearerToken:
    """The token to send: fixed, or read from a file, looked at again after 60 s."""

    def __init__(
        self,
        token: str | None,
        token_file: str | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fixed = token
        self._file = Path(token_file) if token_file else None
        self._clock = clock
        self._value: str | None = None
        self._mtime_ns: int | None = None
        self._checked = 0.0

    def current(self) -> str | None:
        """The token now; the file's last good contents win over the fixed token."""
        if self._file is None:
            return self._fixed
        now = self._clock()
        if self._value is None or now - self._checked >= TOKEN_FILE_MAX_AGE:
            self._checked = now
            self._refresh(self._file)
        return self._value or self._fixed

    def _refresh(self, file: Path) -> None:
        try:
            mtime_ns = file.stat().st_mtime_ns
            if self._value is not None and mtime_ns == self._mtime_ns:
                return
            value = file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            if self._value is None and self._fixed is None:
                raise OSError(f"cannot read the token file {file}: {exc}") from None
            return  # keep the last good token, as client-go does
        self._value, self._mtime_ns = value, mtime_ns


# --- connections -----------------------------------------------------------------------------


@dataclass(eq=False)
class Connection:
    """One HTTP/1.1 connection and its h11 state machine."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    http: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT))
    reused: bool = False

    def alive(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def abort(self) -> None:
        self.writer.transport.abort()

    async def close(self) -> None:
        self.writer.close()
        try:
            await bounded(self.writer.wait_closed(), _CLOSE_TIMEOUT)
        except (OSError, TimeoutError):
            self.abort()

    def finish_cycle(self) -> bool:
        """Ready the connection for the next request; False if it cannot carry one."""
        if self.http.our_state is h11.DONE and self.http.their_state is h11.DONE:
            self.http.start_next_cycle()
            return True
        return False

    async def send(self, request: h11.Request, body: bytes | None) -> None:
        data = self.http.send(request) or b""
        if body:
            data += self.http.send(h11.Data(data=body)) or b""
        data += self.http.send(h11.EndOfMessage()) or b""
        self.writer.write(data)
        await self.writer.drain()

    async def next_event(self, idle_timeout: float | None = None) -> h11.Event:
        while True:
            try:
                event = self.http.next_event()
            except h11.RemoteProtocolError:
                if self.http.their_state is h11.ERROR and self.reader.at_eof():
                    raise ConnectionResetError("the server closed the connection") from None
                raise
            if event is h11.NEED_DATA:
                data = await bounded(self.reader.read(_READ_SIZE), idle_timeout)
                self.http.receive_data(data)
                continue
            if not isinstance(event, h11.Event) or isinstance(event, h11.ConnectionClosed):
                raise ConnectionResetError("the server closed the connection")
            return event

    async def response(self) -> h11.Response:
        while True:
            event = await self.next_event()
            if isinstance(event, h11.Response):
                return event

    async def body(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            event = await self.next_event()
            if isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
