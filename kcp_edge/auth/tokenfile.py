"""Static bearer tokens from ``--token-auth-file``, Kubernetes' CSV format.

Why this module exists: kcp (and its e2e tests) give users fixed tokens in a file,
``token,user,uid,"group1,group2"`` per line, as kube-apiserver's ``--token-auth-file`` does. This
module parses that file strictly enough that a typo is an error with its line number rather
than a user who silently does not exist, and answers "whose token is this" in constant time.

Format, as kube-apiserver reads it (``staticfile/tokenfile.go``), with these choices:

* CSV with double-quoted fields (a quoted field may hold commas; ``""`` is a quote). At least
  three columns (token, user name, uid); the fourth, if present, is a comma-separated list of
  groups; further columns are ignored, as upstream does.
* blank lines and lines starting with ``#`` are skipped (upstream has no comments: a line
  starting with ``#`` there is a token starting with ``#``).
* whitespace around fields and groups is dropped (upstream keeps it, which only ever makes
  users named `` alice``); empty group entries are dropped.
* an empty token is skipped with a warning and a token seen twice keeps its last line with a
  warning, both as upstream. An empty user name, fewer than three columns or a broken quote is
  an error (`TokenFileError`) naming the file and line.

Only SHA-256 digests of the tokens are kept in memory. Lookup hashes the presented token, finds
the entry by digest and confirms with ``hmac.compare_digest``, so the time taken does not depend
on how much of a valid token a guess got right. Every user also gets ``system:authenticated``.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kcp_edge.auth import UserInfo
from kcp_edge.auth.union import Authenticated, with_authenticated_group

SOURCE = "token-file"


class TokenFileError(Exception):
    """The token file cannot be read or is malformed; the message names file and line."""


@dataclass(frozen=True, slots=True)
class StaticUser:
    """One line of the token file (without its token)."""

    user: UserInfo
    uid: str
    line: int


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True)
class StaticTokens:
    """The users of a token file, by token digest."""

    _users: Mapping[bytes, StaticUser] = field(repr=False)
    source: str = "<memory>"
    warnings: tuple[str, ...] = ()
    """Lines that were skipped or overridden (for the server log; they never contain tokens)."""

    @classmethod
    def load(cls, path: Path) -> StaticTokens:
        """Read and parse ``path``; `TokenFileError` if it is missing or malformed."""
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise TokenFileError(f"cannot read the token file {path}: {exc}") from exc
        return cls.parse(text, source=str(path))

    @classmethod
    def parse(cls, text: str, *, source: str = "<memory>") -> StaticTokens:
        """Parse the file's content; ``source`` names it in messages."""
        text = text.removeprefix("\ufeff")
        # Comment lines become empty lines, so that line numbers stay those of the file.
        lines = ["" if line.lstrip().startswith("#") else line for line in text.splitlines()]
        reader = csv.reader(lines, strict=True, skipinitialspace=True)
        users: dict[bytes, StaticUser] = {}
        warnings: list[str] = []
        while True:
            start = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise TokenFileError(f"{source}:{start}: malformed CSV: {exc}") from exc
            if reader.line_num != start:
                raise TokenFileError(f"{source}:{start}: a field must not span lines")
            if not record or all(not f.strip() for f in record):
                continue
            fields = [f.strip() for f in record]
            if len(fields) < 3:
                raise TokenFileError(
                    f"{source}:{start}: a line must have at least 3 columns "
                    f"(token, user name, user uid), found {len(fields)}"
                )
            token, name, uid = fields[0], fields[1], fields[2]
            if not token:
                warnings.append(f"{source}:{start}: empty token, line skipped")
                continue
            if not name:
                raise TokenFileError(f"{source}:{start}: the user name must not be empty")
            groups = [g.strip() for g in fields[3].split(",")] if len(fields) > 3 else []
            key = _digest(token)
            if key in users:
                warnings.append(
                    f"{source}:{start}: token already used on line {users[key].line}; "
                    "this line wins"
                )
            users[key] = StaticUser(
                user=UserInfo(name, with_authenticated_group(groups)),
                uid=uid,
                line=start,
            )
        return cls(users, source=source, warnings=tuple(warnings))

    def __len__(self) -> int:
        return len(self._users)

    def lookup(self, token: str) -> StaticUser | None:
        """The line whose token is ``token``, or None.

        Indexed by SHA-256 digest: lookups compare digests, never the token, so how long a
        guess takes tells nothing about how close it was to a real token.
        """
        return self._users.get(_digest(token))

    def authenticate_token(self, token: str) -> UserInfo | None:
        """`TokenAuthenticator`: the user of ``token``, or None."""
        found = self.lookup(token)
        return None if found is None else found.user

    def authenticate(self, token: str, *, cluster: str) -> Authenticated | None:
        """`TokenSource`: users from the file are valid in every workspace (authz decides)."""
        found = self.lookup(token)
        if found is None:
            return None
        return Authenticated(user=found.user, source=SOURCE, uid=found.uid)


__all__ = ["StaticTokens", "StaticUser", "TokenFileError"]
