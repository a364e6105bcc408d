"""Server-side printing: ``meta.k8s.io/v1`` Tables with the columns the real apiserver prints.

Why this module exists: ``kubectl get`` asks for a Table and prints its cells verbatim; without
one it falls back to ``NAME AGE`` and ``-o wide`` adds nothing. The columns, priorities (1 means
``-o wide`` only), the ``name`` format on NAME and the cell values mirror the handlers of
``k8s.io/kubernetes/pkg/printers/internalversion/printers.go`` as the 1.35 apiserver runs them
(always "wide", so every row has a cell per column); ages are
``k8s.io/apimachinery/pkg/util/duration.HumanDuration``. Kinds without a printer get
``k8s.io/apiserver/pkg/registry/rest`` default convertor (``Name`` + ``Created At`` as RFC 3339),
custom resources the ``apiextensions-apiserver`` ``tableconvertor`` (``Name`` + the CRD's
``additionalPrinterColumns``, ``Age`` when it has none). Rows carry ``PartialObjectMetadata``,
the whole object or nothing, per ``includeObject`` (``handlers/response.go``).

Each kind's printer is data, a `TableRowSource` (columns plus one cell function per column), so
CRD columns plug in the same way. Column descriptions are short texts of our own (kubectl
never shows them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from kcp_edge.apimachinery.fields import JSONPathError, compile_json_path

INCLUDE_NONE = "None"
INCLUDE_METADATA = "Metadata"
INCLUDE_OBJECT = "Object"


class TableError(ValueError):
    """A table that cannot be built (bad ``includeObject``, bad CRD column path)."""


Cell = str | int | float | bool | None
CellFunc = Callable[[Mapping[str, Any], datetime], Cell]


class Column(NamedTuple):
    name: str
    type: str = "string"
    format: str = ""
    description: str = ""
    priority: int = 0

    def definition(self) -> dict[str, Any]:
        return self._asdict()


@dataclass(frozen=True)
class TableRowSource:
    """A kind's printer: the columns and, for each, the function computing its cell."""

    columns: tuple[Column, ...]
    cells: tuple[CellFunc, ...]

    def __post_init__(self) -> None:
        if len(self.columns) != len(self.cells):
            raise TableError("a table row source needs one cell function per column")

    def row(self, obj: Mapping[str, Any], now: datetime) -> list[Cell]:
        return [cell(obj, now) for cell in self.cells]


# --- time ------------------------------------------------------------------------------------

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})"
)


def parse_time(text: object) -> datetime | None:
    """An RFC 3339 timestamp (``metav1.Time`` or ``MicroTime``); None when absent or bad."""
    if not isinstance(text, str) or not text:
        return None
    return _parse_time(text)


@lru_cache(maxsize=4096)
def _parse_time(text: str) -> datetime | None:
    """Cached: the objects of one list mostly share a handful of creation seconds."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    if zone in ("Z", "z"):
        tz = timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tzinfo=tz
        )
    except ValueError:
        return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def human_duration(delta: timedelta) -> str:
    """``duration.HumanDuration``: ~2-3 significant figures; up to 2s in the future is "0s"."""
    micros = delta // timedelta(microseconds=1)
    seconds = abs(micros) // 1_000_000 * (-1 if micros < 0 else 1)  # truncated toward zero
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def age(timestamp: object, now: datetime) -> str:
    """``translateTimestampSince``: ``<unknown>`` for a zero (absent) time."""
    moment = parse_time(timestamp)
    if moment is None:
        return "<unknown>"
    return human_duration(_aware(now) - moment)


# --- generic cells ---------------------------------------------------------------------------


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    current: Any = obj
    for part in path:
        if not isinstance(current, dict):  # decoded JSON: never another Mapping
            return None
        current = current.get(part)
    return current


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _len(value: Any) -> int:
    return len(value) if isinstance(value, Mapping | list) else 0


def _name(obj: Mapping[str, Any], now: datetime) -> Cell:
    return _str(_get(obj, "metadata", "name"))


def _age(obj: Mapping[str, Any], now: datetime) -> Cell:
    return age(_get(obj, "metadata", "creationTimestamp"), now)


def _created_at(obj: Mapping[str, Any], now: datetime) -> Cell:
    moment = parse_time(_get(obj, "metadata", "creationTimestamp"))
    if moment is None:
        return "0001-01-01T00:00:00Z"
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _path(*path: str) -> CellFunc:
    return lambda obj, now: _str(_get(obj, *path))


NAME = Column("Name", "string", "name", "Name of the object, unique within its namespace.")
AGE = Column("Age", "string", "", "Time since the object was created.")
CREATED_AT = Column("Created At", "date", "", "When the object was created (RFC 3339, UTC).")

DEFAULT_SOURCE = TableRowSource((NAME, CREATED_AT), (_name, _created_at))


def _source(*pairs: tuple[Column, CellFunc]) -> TableRowSource:
    return TableRowSource(tuple(c for c, _ in pairs), tuple(f for _, f in pairs))


# --- events ----------------------------------------------------------------------------------


_V1_RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
    "reportingController": "reportingComponent",
}


def _as_core_event(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """An ``events.k8s.io/v1`` Event read with the core/v1 field names the printer uses."""
    return {_V1_RENAMES.get(key, key): value for key, value in obj.items()}


def _first_seen(event: Mapping[str, Any], now: datetime) -> str:
    if parse_time(event.get("firstTimestamp")) is None:
        return age(event.get("eventTime"), now)
    return age(event.get("firstTimestamp"), now)


def _last_seen(event: Mapping[str, Any], now: datetime) -> Cell:
    series = event.get("series")
    if isinstance(series, Mapping):
        return age(series.get("lastObservedTime"), now)
    if parse_time(event.get("lastTimestamp")) is None:
        return _first_seen(event, now)
    return age(event.get("lastTimestamp"), now)


def _event_count(event: Mapping[str, Any], now: datetime) -> Cell:
    series = event.get("series")
    if isinstance(series, Mapping):
        count = series.get("count")
        return count if isinstance(count, int) else 0
    count = event.get("count")
    return count if isinstance(count, int) and count != 0 else 1


def _event_object(event: Mapping[str, Any], now: datetime) -> Cell:
    kind = _str(_get(event, "involvedObject", "kind")).lower()
    name = _str(_get(event, "involvedObject", "name"))
    return f"{kind}/{name}" if name else kind


def _event_source(event: Mapping[str, Any], now: datetime) -> Cell:
    component = _str(_get(event, "source", "component")) or _str(event.get("reportingComponent"))
    instance = _str(_get(event, "source", "host")) or _str(event.get("reportingInstance"))
    return f"{component}, {instance}" if instance else component


def _event_message(event: Mapping[str, Any], now: datetime) -> Cell:
    return _str(event.get("message")).strip()


_EVENT_COLUMNS = (
    (Column("Last Seen", description="Time of the latest occurrence."), _last_seen),
    (Column("Type"), _path("type")),
    (Column("Reason"), _path("reason")),
    (Column("Object", description="The object the event is about."), _event_object),
    (Column("Subobject", priority=1), _path("involvedObject", "fieldPath")),
    (Column("Source", priority=1), _event_source),
    (Column("Message"), _event_message),
    (Column("First Seen", priority=1, description="Time of the first occurrence."), _first_seen),
    (Column("Count", priority=1), _event_count),
    (NAME._replace(priority=1), _name),
)


def _via_core_event(cell: CellFunc) -> CellFunc:
    return lambda obj, now: cell(_as_core_event(obj), now)


# --- other built-in kinds --------------------------------------------------------------------


def _quota_column(limits: bool) -> CellFunc:
    def cell(obj: Mapping[str, Any], now: datetime) -> Cell:
        hard = _get(obj, "status", "hard")
        used = _get(obj, "status", "used")
        if not isinstance(hard, Mapping):
            return ""
        used_map: Mapping[str, Any] = used if isinstance(used, Mapping) else {}
        parts = [
            f"{resource}: {used_map.get(resource, '0')}/{hard[resource]}"
            for resource in sorted(hard)
            if (resource.split(".")[0] == "limits" and "." in resource) == limits
        ]
        return ", ".join(parts)

    return cell


def _subjects(kind: str) -> CellFunc:
    def cell(obj: Mapping[str, Any], now: datetime) -> Cell:
        names = []
        for subject in obj.get("subjects") or []:
            if not isinstance(subject, Mapping) or subject.get("kind") != kind:
                continue
            if kind == "ServiceAccount":
                names.append(f"{_str(subject.get('namespace'))}/{_str(subject.get('name'))}")
            else:
                names.append(_str(subject.get("name")))
        return ", ".join(names)

    return cell


def _role_ref(obj: Mapping[str, Any], now: datetime) -> Cell:
    return f"{_str(_get(obj, 'roleRef', 'kind'))}/{_str(_get(obj, 'roleRef', 'name'))}"


def _csr_condition(obj: Mapping[str, Any], now: datetime) -> Cell:
    types = {
        _str(c.get("type"))
        for c in _get(obj, "status", "conditions") or []
        if isinstance(c, Mapping)
    }
    status = "Denied" if "Denied" in types else "Approved" if "Approved" in types else "Pending"
    if "Failed" in types:
        status += ",Failed"
    if _get(obj, "status", "certificate"):
        status += ",Issued"
    return status


def _csr_duration(obj: Mapping[str, Any], now: datetime) -> Cell:
    seconds = _get(obj, "spec", "expirationSeconds")
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        return "<none>"
    return human_duration(timedelta(seconds=seconds))


def _count(*path: str) -> CellFunc:
    return lambda obj, now: _len(_get(obj, *path))


_BINDING_COLUMNS = (
    (NAME, _name),
    (Column("Role"), _role_ref),
    (AGE, _age),
    (Column("Users", priority=1), _subjects("User")),
    (Column("Groups", priority=1), _subjects("Group")),
    (Column("ServiceAccounts", priority=1), _subjects("ServiceAccount")),
)
_WEBHOOK_COLUMNS = (
    (NAME, _name),
    (Column("Webhooks", "integer"), _count("webhooks")),
    (AGE, _age),
)
_RBAC = "rbac.authorization.k8s.io"
_ADMISSION = "admissionregistration.k8s.io"

SOURCES: dict[str, TableRowSource] = {
    "namespaces": _source(
        (NAME, _name),
        (Column("Status"), _path("status", "phase")),
        (AGE, _age),
    ),
    "configmaps": _source(
        (NAME, _name),
        (Column("Data"), lambda obj, now: _len(obj.get("data")) + _len(obj.get("binaryData"))),
        (AGE, _age),
    ),
    "secrets": _source(
        (NAME, _name),
        (Column("Type"), _path("type")),
        (Column("Data"), _count("data")),
        (AGE, _age),
    ),
    # 1.35 dropped the SECRETS count (kubernetes/kubernetes#117160).
    "serviceaccounts": _source((NAME, _name), (AGE, _age)),
    "events": _source(*_EVENT_COLUMNS),
    "events.events.k8s.io": _source(*((c, _via_core_event(f)) for c, f in _EVENT_COLUMNS)),
    "resourcequotas": _source(
        (NAME, _name),
        (Column("Request"), _quota_column(False)),
        (Column("Limit"), _quota_column(True)),
        (AGE, _age),
    ),
    "leases.coordination.k8s.io": _source(
        (NAME, _name),
        (Column("Holder"), _path("spec", "holderIdentity")),
        (AGE, _age),
    ),
    f"rolebindings.{_RBAC}": _source(*_BINDING_COLUMNS),
    f"clusterrolebindings.{_RBAC}": _source(*_BINDING_COLUMNS),
    "certificatesigningrequests.certificates.k8s.io": _source(
        (NAME, _name),
        (AGE, _age),
        (Column("SignerName"), lambda obj, now: _str(_get(obj, "spec", "signerName")) or "<none>"),
        (Column("Requestor"), _path("spec", "username")),
        (Column("RequestedDuration"), _csr_duration),
        (Column("Condition"), _csr_condition),
    ),
    f"mutatingwebhookconfigurations.{_ADMISSION}": _source(*_WEBHOOK_COLUMNS),
    f"validatingwebhookconfigurations.{_ADMISSION}": _source(*_WEBHOOK_COLUMNS),
}


def source_for(kind_key: str) -> TableRowSource:
    """The printer for ``<resource>[.<group>]``; kinds without one get `DEFAULT_SOURCE`."""
    return SOURCES.get(kind_key, DEFAULT_SOURCE)


# --- custom resources ------------------------------------------------------------------------


def _go_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    return orjson.dumps(value).decode()


def _typed_cell(column_type: str, value: Any, now: datetime) -> Cell:
    """``cellForJSONValue``: a value of the wrong JSON type prints as an empty cell."""
    if value is None:
        return None
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if column_type == "string":
        return _go_text(value)
    if column_type == "integer" and number:
        return int(value)
    if column_type == "number" and number:
        return float(value)
    if column_type == "boolean" and isinstance(value, bool):
        return value
    if column_type == "date" and isinstance(value, str):
        moment = parse_time(value)
        return "<invalid>" if moment is None else human_duration(_aware(now) - moment)
    return None


_EQUALITY_FILTER = re.compile(
    r"(?P<items>.*?)\[\?\(@(?P<field>(?:\.[\w-]+)+)\s*==\s*"
    r"(?:\"(?P<double>[^\"]*)\"|'(?P<single>[^']*)')\)\](?P<rest>.*)"
)


def _column_getter(json_path: str) -> Callable[[Any], Any]:
    """A simple JSONPath, or one with an equality filter on a list (the condition columns
    ``.status.conditions[?(@.type=="Ready")].status``): the first value found is the cell's,
    as the ``tableconvertor`` prints ``results[0][0]``."""
    match = _EQUALITY_FILTER.fullmatch(json_path)
    if match is None or not match["items"]:
        return compile_json_path(json_path)
    items = compile_json_path(match["items"])
    field = compile_json_path(match["field"])
    wanted = match["double"] if match["double"] is not None else match["single"]
    rest = compile_json_path(match["rest"]) if match["rest"] else None

    def get(obj: Any) -> Any:
        found = items(obj)
        for item in found if isinstance(found, list) else ():
            if field(item) != wanted:
                continue
            value = rest(item) if rest is not None else item
            if value is not None:
                return value
        return None

    return get


def custom_resource_source(printer_columns: Sequence[Mapping[str, Any]]) -> TableRowSource:
    """A CRD version's ``additionalPrinterColumns`` (``Age`` alone when there are none)."""
    if not printer_columns:
        printer_columns = [
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
        ]
    pairs: list[tuple[Column, CellFunc]] = [(NAME, _name)]
    for spec in printer_columns:
        json_path = _str(spec.get("jsonPath"))
        try:
            get = _column_getter(json_path)
        except JSONPathError:
            raise TableError(f'unrecognized column definition "{json_path}"') from None
        column_type = _str(spec.get("type")) or "string"
        description = _str(spec.get("description")) or (
            f"Custom resource definition column (in JSONPath format): {json_path}"
        )
        priority = spec.get("priority")
        column = Column(
            _str(spec.get("name")),
            column_type,
            _str(spec.get("format")),
            description,
            priority if isinstance(priority, int) else 0,
        )

        def cell(
            obj: Mapping[str, Any],
            now: datetime,
            get: Callable[[Any], Any] = get,
            t: str = column_type,
        ) -> Cell:
            return _typed_cell(t, get(obj), now)

        pairs.append((column, cell))
    return _source(*pairs)


# --- the Table -------------------------------------------------------------------------------


def _row_object(obj: Mapping[str, Any], include_object: str) -> Any:
    if include_object == INCLUDE_NONE:
        return None
    if include_object == INCLUDE_OBJECT:
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata") or {},
    }


def table_for(
    kind_key: str | TableRowSource,
    objects: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
    include_object: str = INCLUDE_METADATA,
    list_metadata: Mapping[str, Any] | None = None,
    no_headers: bool = False,
) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table of ``objects`` (one object: pass a one-item list).

    ``list_metadata`` is the list's ``metadata`` (resourceVersion, continue,
    remainingItemCount); ``no_headers`` leaves ``columnDefinitions`` null, as a watch does
    after its first event.
    """
    if include_object not in (INCLUDE_METADATA, INCLUDE_OBJECT, INCLUDE_NONE, ""):
        raise TableError(
            f'includeObject: Invalid value: "{include_object}": '
            "must be 'Metadata', 'Object', 'None', or empty"
        )
    source = kind_key if isinstance(kind_key, TableRowSource) else source_for(kind_key)
    rows = [
        {"cells": source.row(obj, now), "object": _row_object(obj, include_object)}
        for obj in objects
    ]
    metadata: dict[str, Any] = {}
    for key in ("resourceVersion", "continue", "remainingItemCount"):
        value = (list_metadata or {}).get(key)
        if value not in (None, ""):
            metadata[key] = value
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": None if no_headers else [c.definition() for c in source.columns],
        "rows": rows,
    }
