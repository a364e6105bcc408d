"""The HTTP/1.1 connection under the application: request-head limits, ``Status`` answers for
requests that never reach it, and the TLS peer's certificate in the ASGI scope.

Why this module exists: uvicorn's httptools protocol takes any number of header fields of any
size (it buffers a header until it ends, so one endless header grows a connection's memory
without bound, before anyone is authenticated), turns a request target over 64 KiB into a
plain-text 400, answers malformed requests in plain text where clients expect a ``Status``, and
does not tell the application which certificate the TLS peer presented. `LimitedHttpToolsProtocol`
adds exactly that to it and nothing else (requires the ``httptools`` package):

* request target (path and query) longer than `MAX_URL_BYTES`: 414 ``RequestURITooLong``;
* request line plus header fields longer than `MAX_HEAD_BYTES`, or more than
  `MAX_HEADER_FIELDS` fields: 431 ``RequestHeaderFieldsTooLarge``;
* anything the HTTP parser refuses: 400 ``BadRequest``.

Each is a JSON ``Status`` and closes the connection. Go's ``net/http`` under kube-apiserver allows
1 MiB of head (``MaxHeaderBytes``) and answers a plain-text 431; these limits are tighter (enough
for any kubectl request, OIDC-sized tokens and impersonation headers) so that a connection costs
little before it is authenticated.

The peer's certificate is in ``scope["extensions"]["tls"]`` as the ASGI TLS extension describes
it: ``client_cert_chain`` is a list of PEM strings, leaf first, empty without a client
certificate. Python before 3.13 exposes only the leaf; intermediate CAs must then be in the
client CA bundle to verify.
"""

from __future__ import annotations

import asyncio
import http
import ssl

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from kcp_edge.server.status import status_body

MAX_URL_BYTES = 16 * 1024
MAX_HEAD_BYTES = 64 * 1024
MAX_HEADER_FIELDS = 100

_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}
_FIELD_OVERHEAD = 4  # ": " and CRLF


class _RefusedError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message


def _uri_too_long() -> _RefusedError:
    return _RefusedError(
        414, "RequestURITooLong", f"the request URI is longer than {MAX_URL_BYTES} bytes"
    )


def _head_too_large() -> _RefusedError:
    return _RefusedError(
        431,
        "RequestHeaderFieldsTooLarge",
        f"the request line and header fields are longer than {MAX_HEAD_BYTES} bytes",
    )


def _too_many_fields() -> _RefusedError:
    return _RefusedError(
        431,
        "RequestHeaderFieldsTooLarge",
        f"the request has more than {MAX_HEADER_FIELDS} header fields",
    )


def tls_extension(transport: asyncio.BaseTransport) -> dict[object, object] | None:
    """The ASGI ``tls`` extension of a connection; None if it is not TLS."""
    ssl_object = transport.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    leaf = ssl_object.getpeercert(binary_form=True)
    unverified = getattr(ssl_object, "get_unverified_chain", None)  # Python 3.13+
    ders: list[bytes] = list(unverified()) if leaf and unverified is not None else []
    if leaf and not ders:
        ders = [leaf]
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der) for der in ders],
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
    }


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with head limits, ``Status`` errors and the TLS extension."""

    _tls: dict[object, object] | None = None
    _in_head = True
    _head_bytes = 0
    _head_size = 0
    _fields = 0
    _refusal: _RefusedError | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._tls = tls_extension(transport)

    def data_received(self, data: bytes) -> None:
        # What the parser buffers of an unfinished head: bounded here, since a single header
        # never reaches on_header before it ends.
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._answer(_head_too_large())

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_size = 0
        self._fields = 0
        if self._tls is not None:
            self.scope["extensions"] = {"tls": self._tls}

    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > MAX_URL_BYTES:
            raise self._refuse(_uri_too_long())
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields += 1
        self._head_size += len(name) + len(value) + _FIELD_OVERHEAD
        if self._fields > MAX_HEADER_FIELDS:
            raise self._refuse(_too_many_fields())
        if len(self.url) + self._head_size > MAX_HEAD_BYTES:
            raise self._refuse(_head_too_large())
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        """Called by uvicorn when the parser fails, also when a callback above refused."""
        refusal, self._refusal = self._refusal, None
        self._answer(refusal or _RefusedError(400, "BadRequest", msg))

    def _refuse(self, refusal: _RefusedError) -> _RefusedError:
        self._refusal = refusal
        return refusal

    def _answer(self, refusal: _RefusedError) -> None:
        body = status_body(code=refusal.code, reason=refusal.reason, message=refusal.message)
        phrase = http.HTTPStatus(refusal.code).phrase
        head = [f"HTTP/1.1 {refusal.code} {phrase}\r\n".encode("ascii")]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value + b"\r\n")
        head.append(
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n"
            b"connection: close\r\n\r\n"
        )
        self.transport.write(b"".join(head) + body)
        self.transport.close()


__all__ = [
    "MAX_HEADER_FIELDS",
    "MAX_HEAD_BYTES",
    "MAX_URL_BYTES",
    "LimitedHttpToolsProtocol",
    "tls_extension",
]
