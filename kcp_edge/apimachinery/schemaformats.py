"""The string ``format`` checkers a CustomResourceDefinition schema can ask for.

Why this module exists: a CRD's ``format: uuid`` (or ``date-time``, ``ipv4``, ...) is enforced by
the apiserver with kube-openapi's ``strfmt.Default`` registry, but only for the formats that
``apiextensions-apiserver/pkg/apiserver/validation/formats.go`` lets through
(``StripUnsupportedFormatsPostProcess``): every other format (``int32``, ``int64``, ``float``,
``double``, anything unknown) is erased before the validator is built, so it checks nothing.
``structural.py`` asks `checker_for` once per schema node at compile time.

Names are matched the way go-openapi normalises them (dashes removed: ``date-time`` is
``datetime``). Each checker mirrors the Go function behind it: ``net.ParseIP`` (no zones, no
leading zeros), ``net.ParseCIDR``, ``net.ParseMAC``, ``url.ParseRequestURI``,
``net/mail.ParseAddress``, ``time.ParseDuration`` plus go-openapi's long-unit fallback,
govalidator's ISBN, credit card, SSN, colour and base64 rules, kube-openapi's RFC 3339 date and
date-time rules and (Kubernetes 1.34+) ``k8s-short-name`` / ``k8s-long-name``. Where Go and
Python disagree at the edges (the e-mail and URI grammars), the common shapes are matched.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable

FormatChecker = Callable[[str], bool]


def normalize(name: str) -> str:
    """go-openapi's ``DefaultNameNormalizer``: format names compare without dashes."""
    return name.replace("-", "")


# --- dates and times (kube-openapi strfmt date.go / time.go) ---------------------------------

_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_DATETIME_TIME_RE = re.compile(
    r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))\Z"
)
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_date(value: str) -> bool:
    """``time.Parse("2006-01-02", value)``: four-digit year, two-digit month and day, real day."""
    match = _DATE_RE.fullmatch(value)
    if match is None:
        return False
    year, month, day = (int(part) for part in match.groups())
    if not 1 <= month <= 12 or day < 1 or day > _DAYS[month - 1]:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return not (month == 2 and day == 29 and not leap)


def is_datetime(value: str) -> bool:
    """kube-openapi ``IsDateTime``: a date, ``T`` (any case), then ``hh:mm:ss[.frac](Z|±hh:mm)``."""
    if len(value) < 4:
        return False
    parts = value.lower().split("t")
    if len(parts) < 2 or not is_date(parts[0]):
        return False
    match = _DATETIME_TIME_RE.search(parts[1])
    if match is None:
        return False
    return match.group(1) <= "23" and match.group(2) <= "59" and match.group(3) <= "59"


# --- durations (Go time.ParseDuration, then go-openapi's ParseDuration fallback) -------------

_GO_DURATION_UNITS = ("ns", "us", "\u00b5s", "\u03bcs", "ms", "s", "m", "h")
_GO_DURATION_RE = re.compile(r"[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)([a-z\u00b5\u03bc]+))+")
_GO_DURATION_PART_RE = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)([a-z\u00b5\u03bc]+)")
_LONG_DURATION_RE = re.compile(r"^\s*(?:\d+\s*[A-Za-z\u00b5]+\s*)+\Z", re.ASCII)
_LONG_DURATION_PART_RE = re.compile(r"(\d+)\s*([A-Za-z\u00b5]+)", re.ASCII)
_LONG_UNITS = (
    ("ns", "nano"),
    ("us", "\u00b5s", "micro"),
    ("ms", "milli"),
    ("s", "sec"),
    ("m", "min"),
    ("h", "hr", "hour"),
    ("d", "day"),
    ("w", "wk", "week"),
)


_GO_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,
    "\u03bcs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_GO_DURATION_VALUE_RE = re.compile(
    r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(" + "|".join(_GO_UNIT_SECONDS) + ")"  # "ms" before "m"
)


def parse_go_duration(text: str) -> float:
    """A Go duration (``time.ParseDuration``: ``1m``, ``30s``, ``1h30m``, ``1.5s``) in seconds;
    ValueError in Go's words otherwise. Command-line flags take these as kcp's do."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    pos, seconds = 0, 0.0
    while pos < len(body):
        match = _GO_DURATION_VALUE_RE.match(body, pos)
        if match is None:
            break
        seconds += float(match[1]) * _GO_UNIT_SECONDS[match[2]]
        pos = match.end()
    if not body or pos != len(body):
        raise ValueError(f'time: invalid duration "{text}"')
    return -seconds if text.startswith("-") else seconds


def _is_go_duration(value: str) -> bool:
    if value in ("0", "+0", "-0"):
        return True
    if not _GO_DURATION_RE.fullmatch(value):
        return False
    return all(unit in _GO_DURATION_UNITS for unit in _GO_DURATION_PART_RE.findall(value))


def _long_unit_known(unit: str) -> bool:
    unit = unit.strip().lower()
    for variants in _LONG_UNITS:
        last = len(variants) - 1
        for i, variant in enumerate(variants):
            if (i == last and unit.startswith(variant)) or variant.lower() == unit:
                return True
    return False


def is_duration(value: str) -> bool:
    """Go's ``time.ParseDuration`` grammar, or ``3 days``-style with known long unit names."""
    if _is_go_duration(value):
        return True
    if not _LONG_DURATION_RE.match(value):
        return False
    return any(_long_unit_known(unit) for _, unit in _LONG_DURATION_PART_RE.findall(value))


# --- networking (Go net, govalidator) --------------------------------------------------------


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``net.ParseIP``: dotted IPv4 (no leading zeros) or IPv6 text, never a zone or prefix."""
    if not value or "%" in value or "/" in value:
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def is_ipv4(value: str) -> bool:
    """govalidator ``IsIPv4``: parses as an IP and contains a dot (so ``::ffff:1.2.3.4`` too)."""
    return _parse_ip(value) is not None and "." in value


def is_ipv6(value: str) -> bool:
    """govalidator ``IsIPv6``: parses as an IP and contains a colon."""
    return _parse_ip(value) is not None and ":" in value


def is_cidr(value: str) -> bool:
    """``net.ParseCIDR``: an IP, a slash, a decimal prefix length that fits the family."""
    address, slash, prefix = value.partition("/")
    if not slash or not prefix.isdigit() or not prefix.isascii():
        return False
    parsed = _parse_ip(address)
    if parsed is None or len(prefix) > 3:
        return False
    return int(prefix) <= parsed.max_prefixlen


_MAC_COLON_RE = re.compile(r"[0-9A-Fa-f]{2}(?:([:-])[0-9A-Fa-f]{2})+")
_MAC_DOT_RE = re.compile(r"[0-9A-Fa-f]{4}(?:\.[0-9A-Fa-f]{4})+")


def is_mac(value: str) -> bool:
    """``net.ParseMAC``: 6, 8 or 20 octets as ``aa:bb..``, ``aa-bb..`` or ``aabb.ccdd..``."""
    if _MAC_COLON_RE.fullmatch(value):
        separators = {value[i] for i in range(2, len(value), 3)}
        octets = (len(value) + 1) // 3
        return len(separators) == 1 and octets in (6, 8, 20)
    if _MAC_DOT_RE.fullmatch(value):
        return (len(value) + 1) // 5 * 2 in (6, 8, 20)
    return False


_HOSTNAME_RE = re.compile(
    r"^([a-zA-Z0-9]((-?[a-zA-Z0-9]{0,62})?)|([a-zA-Z0-9](([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.)){1,}"
    r"([a-zA-Z0-9])(-?[a-zA-Z0-9]){1,62})$"
)


def _fold_letters_and_symbols(value: str) -> str:
    # The Go pattern admits \p{L} and \p{S} wherever it admits [a-zA-Z0-9]; fold them to "a".
    if value.isascii() and value.replace("-", "").replace(".", "").isalnum():
        return value
    return "".join(
        "a" if unicodedata.category(ch)[0] in "LS" and ch not in "-." else ch for ch in value
    )


def is_hostname(value: str) -> bool:
    """kube-openapi ``IsHostname``: RFC 1034 labels (unicode letters allowed), 255 bytes total."""
    if not _HOSTNAME_RE.fullmatch(_fold_letters_and_symbols(value)):
        return False
    if len(value.encode()) > 255:
        return False
    return all(len(label.encode()) <= 63 for label in value.split("."))


_URI_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_BAD_HOST_CHARS = frozenset(' "<>\\^`{|}')


def is_request_uri(value: str) -> bool:
    """govalidator ``IsRequestURI`` (``url.ParseRequestURI``): absolute URI or absolute path."""
    if not value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return False
    if value.startswith("/"):
        return True
    scheme = _URI_SCHEME_RE.match(value)
    if scheme is None:
        return False
    rest = value[scheme.end() :]
    if not rest.startswith("//"):
        return bool(rest) and not rest.startswith(" ")
    authority = rest[2:].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = authority.rsplit("@", 1)[-1]
    return not any(ch in _BAD_HOST_CHARS for ch in host)


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_QUOTED = r'"(?:[^"\\\r\n]|\\.)*"'
_ADDR_SPEC = rf"(?:{_DOT_ATOM}|{_QUOTED})@(?:{_DOT_ATOM}|\[[^\[\]\\]*\])"
_EMAIL_RE = re.compile(rf"\s*(?:{_ADDR_SPEC}|(?:[^<>@,;:\"]+|{_QUOTED})?\s*<{_ADDR_SPEC}>)\s*")


def is_email(value: str) -> bool:
    """``net/mail.ParseAddress``: ``local@domain`` or ``Display Name <local@domain>``."""
    return bool(_EMAIL_RE.fullmatch(value))


# --- identifiers and codes (go-openapi / govalidator) ----------------------------------------

_UUID_RE = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_UUID3_RE = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_UUID4_RE = re.compile(
    r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$"
)
_UUID5_RE = re.compile(
    r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$"
)
_BSON_RE = re.compile(r"[0-9a-fA-F]{24}")
_ISBN10_RE = re.compile(r"(?:[0-9]{9}X|[0-9]{10})")
_ISBN13_RE = re.compile(r"[0-9]{13}")
_ISBN_STRIP_RE = re.compile(r"[\s-]+")
_CREDIT_CARD_RE = re.compile(
    r"(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|(222[1-9]|22[3-9][0-9]|2[3-6][0-9]{2}|27[01][0-9]|"
    r"2720)[0-9]{12}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|"
    r"(?:2131|1800|35\d{3})\d{11}|6[27][0-9]{14})",
    re.ASCII,
)
_SSN_RE = re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$", re.ASCII)
_HEXCOLOR_RE = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_BYTE = r"(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])"
_RGBCOLOR_RE = re.compile(rf"^rgb\(\s*{_BYTE}\s*,\s*{_BYTE}\s*,\s*{_BYTE}\s*\)$", re.ASCII)
_BASE64_RE = re.compile(
    r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$"
)
_SHORT_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LONG_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def is_isbn10(value: str) -> bool:
    digits = _ISBN_STRIP_RE.sub("", value)
    if not _ISBN10_RE.fullmatch(digits):
        return False
    total = sum((i + 1) * int(ch) for i, ch in enumerate(digits[:9]))
    check = 10 if digits[9] == "X" else int(digits[9])
    return (total + 10 * check) % 11 == 0


def is_isbn13(value: str) -> bool:
    digits = _ISBN_STRIP_RE.sub("", value)
    if not _ISBN13_RE.fullmatch(digits):
        return False
    total = sum(int(ch) * (1 if i % 2 == 0 else 3) for i, ch in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == int(digits[12])


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n * 2 > 9 else n * 2
        total += n
    return total % 10 == 0


def is_credit_card(value: str) -> bool:
    """govalidator ``IsCreditCard``: the digits (other characters dropped) of a known scheme."""
    digits = "".join(ch for ch in value if "0" <= ch <= "9")
    return bool(_CREDIT_CARD_RE.fullmatch(digits)) and _luhn(digits)


def is_ssn(value: str) -> bool:
    return len(value) == 11 and bool(_SSN_RE.match(value))


def is_short_name(value: str) -> bool:
    """``k8s-short-name``: a lower-case RFC 1123 label of at most 63 bytes."""
    return len(value) <= 63 and bool(_SHORT_NAME_RE.fullmatch(value))


def is_long_name(value: str) -> bool:
    """``k8s-long-name``: dot-separated lower-case labels, at most 253 bytes in all."""
    return len(value) <= 253 and bool(_LONG_NAME_RE.fullmatch(value))


def _matcher(pattern: re.Pattern[str]) -> FormatChecker:
    # fullmatch: Python's "$" also matches before a final newline, RE2's (Go's) does not.
    return lambda value: pattern.fullmatch(value) is not None


def _full_matcher(pattern: re.Pattern[str]) -> FormatChecker:
    return lambda value: pattern.fullmatch(value) is not None


CHECKERS: dict[str, FormatChecker] = {
    "bsonobjectid": _full_matcher(_BSON_RE),
    "uri": is_request_uri,
    "email": is_email,
    "hostname": is_hostname,
    "ipv4": is_ipv4,
    "ipv6": is_ipv6,
    "cidr": is_cidr,
    "mac": is_mac,
    "uuid": _matcher(_UUID_RE),
    "uuid3": _matcher(_UUID3_RE),
    "uuid4": _matcher(_UUID4_RE),
    "uuid5": _matcher(_UUID5_RE),
    "isbn": lambda value: is_isbn10(value) or is_isbn13(value),
    "isbn10": is_isbn10,
    "isbn13": is_isbn13,
    "creditcard": is_credit_card,
    "ssn": is_ssn,
    "hexcolor": _matcher(_HEXCOLOR_RE),
    "rgbcolor": _matcher(_RGBCOLOR_RE),
    "byte": _matcher(_BASE64_RE),
    "password": lambda _value: True,
    "date": is_date,
    "duration": is_duration,
    "datetime": is_datetime,
    "k8sshortname": is_short_name,
    "k8slongname": is_long_name,
}
"""The formats a CRD schema enforces, by normalised name (1.0 set plus the 1.34 k8s names)."""


def checker_for(name: str) -> FormatChecker | None:
    """The checker of a supported format; ``None`` for formats the apiserver strips."""
    return CHECKERS.get(normalize(name)) if name else None
