"""A tiny HTTPS client for the kubectl plugins: JSON in, JSON out, a ``Status`` on failure.

Why this module exists: ``kubectl ws`` runs from the single file on machines that have nothing
but it, and must not pull in the ``kubernetes`` client (import-linter forbids it in kcp_edge).
It needs a handful of GETs and POSTs, so this is the standard library (``http.client`` and
``ssl``) speaking to the server with one kubeconfig context's credentials, as client-go would:

* TLS: the context's CA (``certificate-authority-data`` or ``certificate-authority``) and only
  that CA when given, else the system's; ``insecure-skip-tls-verify`` turns verification off;
  ``tls-server-name`` overrides the name checked.
* Credentials: a bearer token (``token``/``tokenFile``), a client certificate and key
  (``ssl`` loads them from files only, so PEM data goes through a private temporary directory
  that is removed at once), or basic auth. Exec and auth-provider plugins are not supported;
  `kubeconfigs.client_config` says so when a context asks for one.

Every failure raises `RestError`: a response with a ``Status`` body carries it (``code``,
``reason``, ``message``); a non-Status error body gets client-go's generic wording
(``NewGenericServerResponse`` in ``k8s.io/apimachinery/pkg/api/errors``: "the server could not
find the requested resource", ...); transport and TLS failures have ``code`` None.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kcp_edge.apimachinery import errors
from kcp_edge.version import __version__
from syncer.kubehttp import load_client_certificate

USER_AGENT = f"kubectl-ws/{__version__} (kcp-edge)"
DEFAULT_TIMEOUT = 30.0


class RestError(errors.ClientError, ValueError):
    """A request failed: ``code``/``reason``/``status`` from the server, or ``code`` None."""


@dataclass(frozen=True, kw_only=True)
class ClientConfig:
    """Where the server is and how to talk to it: one kubeconfig context, resolved."""

    server: str
    """The base URL requests are made against, e.g. ``https://127.0.0.1:6443``."""
    ca_pem: bytes | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    token: str | None = None
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = DEFAULT_TIMEOUT


def ssl_context(config: ClientConfig) -> ssl.SSLContext:
    """The TLS settings of ``config``: trusted CAs, verification, client certificate."""
    if config.insecure:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif config.ca_pem is not None:
        try:
            context = ssl.create_default_context(cadata=config.ca_pem.decode("ascii"))
        except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
            raise RestError(f"unable to load the certificate authority: {exc}") from None
    else:
        context = ssl.create_default_context()
    if config.client_cert_pem is not None:
        if config.client_key_pem is None:
            raise RestError("client-certificate given without client-key")
        try:
            load_client_certificate(context, config.client_cert_pem, config.client_key_pem)
        except ssl.SSLError as exc:
            raise RestError(f"unable to load the client certificate and key: {exc}") from None
    return context


class RestClient:
    """JSON requests to one server; paths are absolute (``/clusters/root/apis/...``)."""

    def __init__(self, config: ClientConfig) -> None:
        url = urllib.parse.urlsplit(config.server)
        if url.scheme not in ("https", "http") or not url.hostname:
            raise RestError(f"invalid server URL {config.server!r}")
        self.config = config
        self._url = url
        self._prefix = url.path.rstrip("/")
        self._context = ssl_context(config) if url.scheme == "https" else None

    def get(self, path: str) -> dict[str, Any]:
        """GET ``path``; the decoded JSON object."""
        return self.request("GET", path)

    def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``body`` as JSON to ``path``; the decoded JSON object."""
        return self.request("POST", path, body)

    def request(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Send one request; the JSON object answered with 2xx, else `RestError`."""
        payload = None if body is None else json.dumps(body).encode("utf-8")
        target = self._prefix + path
        where = f"{method.capitalize()} {json.dumps(self.config.server.rstrip('/') + path)}"
        connection = self._connection()
        try:
            connection.request(method, target, body=payload, headers=self._headers())
            response = connection.getresponse()
            status, raw = response.status, response.read()
        except ssl.SSLCertVerificationError as exc:
            message = f"{where}: tls: failed to verify certificate: {exc.verify_message}"
            raise RestError(message) from None
        except (OSError, http.client.HTTPException) as exc:
            raise RestError(f"{where}: {exc}") from None
        finally:
            connection.close()
        if 200 <= status < 300:
            return _json_object(raw, status)
        raise _error_from_response(status, method, raw)

    def _connection(self) -> http.client.HTTPConnection:
        host, port, timeout = self._url.hostname or "", self._url.port, self.config.timeout
        if self._context is None:
            return http.client.HTTPConnection(host, port, timeout=timeout)
        return _HTTPSConnection(
            host,
            port,
            timeout=timeout,
            context=self._context,
            server_name=self.config.tls_server_name or host,
        )

    def _headers(self) -> dict[str, str]:
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        elif self.config.username is not None:
            pair = f"{self.config.username}:{self.config.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return headers


class _HTTPSConnection(http.client.HTTPSConnection):
    """HTTPS that checks (and sends as SNI) ``server_name``: ``tls-server-name`` or the host."""

    def __init__(
        self,
        host: str,
        port: int | None,
        *,
        timeout: float,
        context: ssl.SSLContext,
        server_name: str,
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._tls = context
        self._server_name = server_name

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._server_name)


def _json_object(raw: bytes, status: int) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        raise RestError(
            f"the server answered {status} with a body that is not JSON", code=status
        ) from None
    if not isinstance(value, dict):
        raise RestError(
            f"the server answered {status} with JSON that is not an object", code=status
        )
    return value


def _error_from_response(status: int, method: str, raw: bytes) -> RestError:
    """client-go's reading of an error response: the Status if there is one, else generic words."""
    reason, message, body = errors.read_error_response(status, method, raw)
    return RestError(message, code=status, reason=reason, status=body)
