"""The log filter that keeps credentials in URLs out of ``kcp start``'s log.

Why this module exists: the filter must redact what a client may put in a query string without
breaking the records it passes: uvicorn's access formatter unpacks the record's arguments, and
its trace log formats whole scope dictionaries.
"""

from __future__ import annotations

import logging

import pytest
from uvicorn.logging import AccessFormatter

from kcp_edge.cli.redaction import RedactCredentials, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/api?access_token=abc&watch=1", "/api?access_token=<redacted>&watch=1"),
        ("/api?watch=1&TOKEN=abc", "/api?watch=1&TOKEN=<redacted>"),
        ("/x?id_token=a.b.c", "/x?id_token=<redacted>"),
        ("/x?client-secret=s&password=p", "/x?client-secret=<redacted>&password=<redacted>"),
        ("b'token=abc'", "b'token=<redacted>'"),
        ("/api?continue=eyJ2&limit=500&labelSelector=a%3Db", None),
        ("/api?tokens_total=1", None),
    ],
)
def test_redact(text: str, expected: str | None) -> None:
    assert redact(text) == (text if expected is None else expected)


def record(msg: str, args: tuple[object, ...], name: str = "uvicorn.access") -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)


def test_the_access_log_keeps_its_arguments() -> None:
    entry = record(
        '%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5", "GET", "/version?access_token=abc", "1.1", 200)
    )
    assert RedactCredentials().filter(entry)
    line = AccessFormatter(fmt="%(request_line)s %(status_code)s", use_colors=False).format(entry)
    assert line == "GET /version?access_token=<redacted> HTTP/1.1 200 OK"


def test_credentials_inside_other_arguments() -> None:
    entry = record("Started scope=%s", ({"query_string": b"access_token=abc"},), "uvicorn.asgi")
    assert RedactCredentials().filter(entry)
    assert entry.getMessage() == "Started scope={'query_string': b'access_token=<redacted>'}"
