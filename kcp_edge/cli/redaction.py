"""A log filter that keeps credentials a client put in a URL out of the server's log.

Why this module exists: no log line may carry a secret. kcp-edge never logs headers (uvicorn's
access log prints the request line, its trace log shows headers as ``<...>``), and its own
messages never include a credential, but the request line carries the query string, where a
client may put a token (``?access_token=``, which Kubernetes no longer accepts and kcp-edge
never did; such a request is simply anonymous). `RedactCredentials` replaces the value of every
query parameter whose name ends in ``token``, ``password`` or ``secret`` with ``<redacted>``,
in every log record that passes the handlers ``kcp start`` installs.
"""

from __future__ import annotations

import logging
import re

REDACTED = "<redacted>"

_CREDENTIAL = re.compile(
    r"(?i)(?<![a-z0-9_.-])([a-z0-9_.-]*(?:token|password|secret))=[^&\s\"'\\]*"
)


def redact(text: str) -> str:
    """``text`` with the values of credential-like ``name=value`` pairs replaced."""
    return _CREDENTIAL.sub(rf"\1={REDACTED}", text)


class RedactCredentials(logging.Filter):
    """Redacts the message and its arguments; lets every record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            # uvicorn's access formatter unpacks the arguments: redact them one by one.
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        message = record.getMessage()
        if redact(message) != message:  # inside another argument (a scope dict, bytes, ...)
            record.msg, record.args = redact(message), ()
        return True


__all__ = ["REDACTED", "RedactCredentials", "redact"]
