"""Conditions as kcp's controllers keep them: one per type, a summary ``Ready``.

Why this module exists: the WorkloadCluster health controller and the namespace scheduler both
write ``status.conditions`` the way kcp's conditions library (``third_party/conditions``, a
fork of cluster-api's) does, and clients compare them field by field: ``severity`` only when
False, ``reason`` and ``message`` left out when empty, ``lastTransitionTime`` kept until the
status changes, ``Ready`` first and the others by type. `summary` is the library's
``SetSummary``: True when every listed condition present is True, else the first False one
(most severe first) passed on with its reason, message and severity.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

Obj = dict[str, Any]
READY = "Ready"
ERROR = "Error"
WARNING = "Warning"
INFO = "Info"
_SEVERITY_ORDER = {ERROR: 0, WARNING: 1, INFO: 2, "": 3}


def condition(
    kind: str, status: bool, *, reason: str = "", message: str = "", severity: str = ""
) -> Obj:
    """A condition without its transition time; severity is kept only on a False one."""
    found: Obj = {"type": kind, "status": "True" if status else "False"}
    if not status and severity:
        found["severity"] = severity
    if reason:
        found["reason"] = reason
    if message:
        found["message"] = message
    return found


def find(conditions: Iterable[Obj], kind: str) -> Obj | None:
    return next((c for c in conditions if c.get("type") == kind), None)


def is_true(conditions: Iterable[Obj], kind: str) -> bool:
    found = find(conditions, kind)
    return found is not None and found.get("status") == "True"


def summary(conditions: Sequence[Obj], kinds: Sequence[str]) -> Obj:
    """The ``Ready`` condition summarizing those of ``kinds`` present in ``conditions``."""
    present = [c for kind in kinds if (c := find(conditions, kind)) is not None]
    failed = [c for c in present if c.get("status") == "False"]
    if failed:
        first = min(failed, key=lambda c: _SEVERITY_ORDER.get(str(c.get("severity", "")), 3))
        return condition(
            READY,
            False,
            reason=str(first.get("reason", "")),
            message=str(first.get("message", "")),
            severity=str(first.get("severity", "")),
        )
    if any(c.get("status") != "True" for c in present):
        return {"type": READY, "status": "Unknown"}
    return condition(READY, True)


def set_condition(conditions: Sequence[Obj], wanted: Obj, *, now: str) -> list[Obj]:
    """``conditions`` with ``wanted`` in place of its type; its ``lastTransitionTime`` is
    ``now`` unless the stored condition of that type has the same status."""
    old = find(conditions, wanted["type"])
    stamped = dict(wanted)
    if old is not None and old.get("status") == wanted["status"] and old.get("lastTransitionTime"):
        stamped["lastTransitionTime"] = old["lastTransitionTime"]
    else:
        stamped["lastTransitionTime"] = now
    others = [c for c in conditions if c.get("type") != wanted["type"]]
    return sorted([*others, stamped], key=lambda c: (c.get("type") != READY, c.get("type", "")))
