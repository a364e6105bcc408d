"""``kcp start``: open the store, set up credentials, serve HTTPS until told to stop.

Why this module exists: it is the wiring of one server process, kept out of the layers it wires.
From `StartOptions` (the flags, parsed in ``main.py``), in order: the root directory (mode 0700,
locked against a second server), the listening socket (bound first, so a busy port fails before
anything is written), the store, the TLS certificates, the admin token, the admin kubeconfig,
then uvicorn on the bound socket. SIGTERM and Ctrl-C stop the server gracefully, then the store
is closed (acknowledged writes are durable) and the exit code is 0. Expected failures (busy port,
unusable directory, bad certificate, stale admin token) print one ``error: ...`` line and exit 1,
never a traceback. TLS is 1.2 or newer. With ``--client-ca-file`` the TLS layer asks clients for
a certificate and checks any it gets against that bundle (see ``server/connections.py`` for the
HTTP/1.1 protocol that hands it to the authenticator, with its request-head limits).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import errno
import importlib.util
import ipaddress
import logging
import os
import signal
import socket
import ssl
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from kcp_edge.auth import TokenAuthenticator
from kcp_edge.auth.admin_token import (
    AdminTokenError,
    bootstrap_admin_token,
    save_admin_token_hash,
)
from kcp_edge.auth.clientcerts import ClientCAs, ClientCertificateError, ClientCertificates
from kcp_edge.auth.pki import (
    PkiError,
    ServingCertificate,
    ensure_serving_certificate,
    load_serving_certificate,
    required_names,
)
from kcp_edge.auth.serviceaccounts import TokenIssuer, load_or_create_signing_key
from kcp_edge.auth.tokenfile import StaticTokens, TokenFileError
from kcp_edge.auth.union import (
    FailedAuthLimiter,
    PlainTokenSource,
    TokenSource,
    UnionAuthenticator,
)
from kcp_edge.cli.kubeconfig import base_url, read_user_token, server_host, write_admin_kubeconfig
from kcp_edge.cli.redaction import RedactCredentials
from kcp_edge.cli.wiring import server_app
from kcp_edge.storage import LmdbOptions, LmdbStore, StorageError
from kcp_edge.storage.compactor import Compactor
from syncer.kubeconfig import ClientConfig
from syncer.push import PushSyncers

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None
"""What signal.signal takes and returns."""

if sys.platform != "win32":
    import fcntl

GRACEFUL_SHUTDOWN_SECONDS = 10
FAILED_AUTH_WINDOW_SECONDS = 60.0
DEFAULT_FAILED_AUTH_LIMIT = 30


class StartError(Exception):
    """``kcp start`` cannot go on; the message is printed as ``error: <message>``."""


@dataclass(frozen=True, kw_only=True)
class StartOptions:
    """Everything ``kcp start`` was told, with paths resolved."""

    root_directory: Path
    bind_address: str
    secure_port: int
    external_hostname: str | None
    kubeconfig_path: Path
    admin_token_path: Path
    cert_dir: Path
    tls_cert_file: Path | None
    tls_private_key_file: Path | None
    token_auth_file: Path | None = None
    client_ca_file: Path | None = None
    failed_auth_limit: int = DEFAULT_FAILED_AUTH_LIMIT
    """Failed authentications per minute per client address (burst as large); 0: no limit."""
    compaction_interval: float
    history_revisions: int
    verbosity: int
    heartbeat_threshold: float = 60.0
    """Seconds without a syncer heartbeat after which a WorkloadCluster is not Ready."""


class _Signals:
    """Remembers SIGINT/SIGTERM until uvicorn takes them over, and after it hands them back.

    uvicorn re-raises the signals it caught once it has shut down, with the handlers it found
    installed; these must then be ours, or the process would die of the signal after all.
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self.server: uvicorn.Server | None = None
        self._previous: dict[int, _Handler] = {}

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._on_signal)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signum)
        if self.server is not None:  # arrived just before uvicorn installed its own handlers
            self.server.should_exit = True


class _Server(uvicorn.Server):
    """uvicorn's server, ending every watch stream as soon as shutdown begins.

    uvicorn waits for open responses before it shuts down, and a watch stays open for many
    minutes: without this, SIGTERM would wait the whole grace period for the watches and then
    cancel them. Ending them first lets clients see a normal end of stream and reconnect.
    """

    def __init__(self, config: uvicorn.Config, *, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_exit()
        super().handle_exit(sig, frame)


def run_start(options: StartOptions) -> int:
    """Run the server until SIGTERM or Ctrl-C; the process exit code."""
    signals = _Signals()
    signals.install()
    _configure_logging(options.verbosity)
    try:
        with contextlib.ExitStack() as stack:
            return _serve(options, signals, stack)
    except StartError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        signals.restore()


def _serve(options: StartOptions, signals: _Signals, stack: contextlib.ExitStack) -> int:
    root = options.root_directory
    _prepare_root(root)
    stack.enter_context(_locked(root / ".kcp-edge.lock"))
    sock = stack.enter_context(_listen(options.bind_address, options.secure_port))
    port: int = sock.getsockname()[1]
    try:
        store = LmdbStore.open(LmdbOptions(path=root / "store"))
    except (StorageError, OSError) as exc:
        raise StartError(str(exc)) from exc
    stack.callback(store.close)
    compactor = Compactor(
        store,
        retain_revisions=options.history_revisions,
        interval_seconds=options.compaction_interval,
    )
    compactor.start()
    stack.callback(compactor.stop)
    cert = _certificate(options)
    try:
        token = bootstrap_admin_token(
            hash_file=options.admin_token_path,
            kubeconfig_path=options.kubeconfig_path,
            existing_token=read_user_token(options.kubeconfig_path),
        )
        host = server_host(
            bind_address=options.bind_address, external_hostname=options.external_hostname
        )
        url = base_url(host, port)
        write_admin_kubeconfig(
            options.kubeconfig_path, server=url, ca_pem=cert.ca_pem, token=token.token
        )
        if token.new:
            save_admin_token_hash(options.admin_token_path, token)
    except AdminTokenError as exc:
        raise StartError(str(exc)) from exc
    except OSError as exc:
        raise StartError(f"cannot write the admin credentials: {exc}") from exc
    try:
        issuer = TokenIssuer(load_or_create_signing_key(options.root_directory / "sa.key"))
    except (OSError, ValueError) as exc:
        raise StartError(f"cannot read or write the service-account key: {exc}") from exc
    push = PushSyncers(
        server=ClientConfig(server=url, ca_pem=cert.ca_pem, token=token.token),
        state_dir=root / "syncers",
    )
    app = server_app(
        store=store,
        authenticator=_authenticator(options, token, issuer),
        base_url=url,
        token_issuer=issuer,
        ca_pem=cert.ca_pem,
        heartbeat_threshold=options.heartbeat_threshold,
        extra_controllers=[push],
    )
    config = build_server_config(
        app=app, cert=cert, verbosity=options.verbosity, client_ca_file=options.client_ca_file
    )
    if signals.received:
        return 0

    def on_exit() -> None:  # push syncers watch this server: stop them before draining
        push.stop()
        store.end_watches()

    server = _Server(config, on_exit=on_exit)
    signals.server = server
    print(
        f"kcp-edge serving on {url} ; admin kubeconfig: {options.kubeconfig_path}",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.run(sockets=[sock])
    except SystemExit as exc:  # uvicorn exits when the application fails to start
        raise StartError(f"the server failed to start (exit status {exc.code})") from None
    return 0


def _authenticator(
    options: StartOptions, admin: TokenAuthenticator, issuer: TokenIssuer
) -> UnionAuthenticator:
    """Client certificates (``--client-ca-file``) first; then the admin token, the static token
    file's users (``--token-auth-file``), then service-account tokens (bound to their
    workspace); failures limited per client (``--failed-auth-limit``)."""
    sources: list[TokenSource] = [PlainTokenSource(admin, "admin")]
    if options.token_auth_file is not None:
        try:
            static = StaticTokens.load(options.token_auth_file)
        except TokenFileError as exc:
            raise StartError(f"--token-auth-file: {exc}") from exc
        for warning in static.warnings:  # skipped or overridden lines: the operator must know
            print(f"warning: --token-auth-file: {warning}", file=sys.stderr)
        sources.append(static)
    sources.append(issuer)
    certificates = None
    if options.client_ca_file is not None:
        try:
            certificates = ClientCertificates(ClientCAs.load(options.client_ca_file))
        except ClientCertificateError as exc:
            raise StartError(f"--client-ca-file: {exc}") from exc
    limiter = None
    if options.failed_auth_limit > 0:
        limiter = FailedAuthLimiter(
            max_failures=options.failed_auth_limit, per_seconds=FAILED_AUTH_WINDOW_SECONDS
        )
    return UnionAuthenticator(sources, certificates=certificates, limiter=limiter)


def _http_protocol(*, client_certificates: bool) -> type[asyncio.Protocol] | str:
    """kcp-edge's HTTP/1.1 protocol (head limits, Status errors, the TLS peer) over httptools.

    Without httptools (installed without the ``fast`` extra) h11 serves, with its own bound on
    the head (16 KiB, a plain-text 400 beyond it) and without client certificates.
    """
    if importlib.util.find_spec("httptools") is None:
        if client_certificates:
            raise StartError("--client-ca-file needs the httptools package (kcp-edge[fast])")
        return "h11"
    from kcp_edge.server.connections import LimitedHttpToolsProtocol  # noqa: PLC0415

    return LimitedHttpToolsProtocol


def build_server_config(
    *,
    app: ASGIApp,
    cert: ServingCertificate,
    verbosity: int,
    client_ca_file: Path | None = None,
) -> uvicorn.Config:
    """The loaded uvicorn configuration; its SSL context accepts TLS 1.2 and newer only.

    With ``client_ca_file`` clients are asked for a certificate (not required); one that does
    not chain to that bundle fails the handshake.
    """
    config = uvicorn.Config(
        app,
        ssl_certfile=str(cert.cert_file),
        ssl_keyfile=str(cert.key_file),
        ssl_ciphers=None,  # Python's defaults (older uvicorn defaulted to a TLS 1.0 list)
        ssl_cert_reqs=ssl.CERT_OPTIONAL if client_ca_file else ssl.CERT_NONE,
        ssl_ca_certs=str(client_ca_file) if client_ca_file else None,
        lifespan="on",
        log_config=_uvicorn_log_config(),
        log_level=_uvicorn_log_level(verbosity),
        access_log=verbosity >= 4,
        loop="auto",
        http=_http_protocol(client_certificates=client_ca_file is not None),
        ws="none",
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    try:
        config.load()
    except (ssl.SSLError, OSError) as exc:
        raise StartError(
            f"cannot serve TLS with {cert.cert_file} and {cert.key_file}"
            + (f" and client CAs {client_ca_file}" if client_ca_file else "")
            + f": {exc}"
        ) from exc
    if config.ssl is None:
        raise StartError("TLS is not configured")
    config.ssl.minimum_version = max(config.ssl.minimum_version, ssl.TLSVersion.TLSv1_2)
    return config


def _certificate(options: StartOptions) -> ServingCertificate:
    try:
        if options.tls_cert_file and options.tls_private_key_file:
            return load_serving_certificate(
                cert_file=options.tls_cert_file, key_file=options.tls_private_key_file
            )
        names = required_names(
            bind_address=options.bind_address, external_hostname=options.external_hostname
        )
        return ensure_serving_certificate(cert_dir=options.cert_dir, names=names)
    except PkiError as exc:
        raise StartError(str(exc)) from exc


def _prepare_root(root: Path) -> None:
    try:
        if not root.is_dir():
            root.mkdir(mode=0o700, parents=True)
            root.chmod(0o700)  # whatever the umask
        probe = root / ".kcp-edge-probe"
        probe.touch()
        probe.unlink()
    except FileExistsError:
        raise StartError(f"root directory {root} exists and is not a directory") from None
    except OSError as exc:
        raise StartError(f"cannot use root directory {root}: {exc.strerror or exc}") from exc


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``: one server per root directory."""
    if sys.platform == "win32":  # pragma: no cover - no flock; LMDB still locks its own files
        yield
        return
    try:
        lock = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+b")
    except OSError as exc:
        raise StartError(f"cannot create the lock file {path}: {exc.strerror or exc}") from exc
    with lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise StartError(
                f"another kcp-edge is already running with root directory {path.parent}"
            ) from None
        yield


_BIND_ERRORS = {
    errno.EADDRINUSE: "the address is already in use (is another server running on that port?)",
    errno.EACCES: "permission denied",
    errno.EADDRNOTAVAIL: "the address is not available on this host",
}


@contextlib.contextmanager
def _listen(address: str, port: int) -> Iterator[socket.socket]:
    ip = ipaddress.ip_address(address)
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    dualstack = ip.version == 6 and ip.is_unspecified and socket.has_dualstack_ipv6()
    shown = f"[{address}]:{port}" if ip.version == 6 else f"{address}:{port}"
    try:
        sock = socket.create_server(
            (address, port), family=family, backlog=2048, dualstack_ipv6=dualstack
        )
    except OSError as exc:
        reason = _BIND_ERRORS.get(exc.errno or 0, exc.strerror or str(exc))
        raise StartError(f"cannot listen on {shown}: {reason}") from None
    with sock:
        yield sock


def _uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's logging setup, with the access log on stderr too: stdout stays clean; no
    credential in a URL reaches either handler."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    config.setdefault("filters", {})["redact"] = {"()": RedactCredentials}
    for handler in config["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), "redact"]
    return config


def _uvicorn_log_level(verbosity: int) -> str:
    levels = {0: "warning", 1: "warning", 2: "warning", 3: "info", 4: "info", 5: "debug"}
    return levels.get(verbosity, "trace" if verbosity > 5 else "warning")


def _configure_logging(verbosity: int) -> None:
    logger = logging.getLogger("kcp_edge")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(RedactCredentials())
        logger.addHandler(handler)
    level = logging.DEBUG if verbosity >= 4 else logging.INFO if verbosity >= 2 else logging.WARNING
    logger.setLevel(level)
