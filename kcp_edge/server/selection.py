"""labelSelector and fieldSelector query parameters as one object filter.

Why this module exists: list, watch and deletecollection all select objects the same way
(``k8s.io/apiserver/pkg/storage`` SelectionPredicate): labels by a label selector, fields by the
field selectors the kind supports; invalid selectors are a 400 before any read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kcp_edge.apimachinery import errors, fields, labels
from kcp_edge.registry.custom import custom_kind
from kcp_edge.registry.kinds import ResourceKind

Filter = Callable[[dict[str, Any]], bool]


def selection_filter(
    kind: ResourceKind, *, label_selector: str, field_selector: str
) -> Filter | None:
    """A predicate over decoded objects, or None when nothing is selected on."""
    checks: list[Filter] = []
    if label_selector.strip():
        try:
            selector = labels.parse(label_selector)
        except ValueError as exc:
            raise errors.bad_request(str(exc)) from None
        checks.append(lambda obj: selector.matches(obj["metadata"].get("labels") or {}))
    if field_selector.strip():
        try:
            custom = custom_kind(kind)
            if custom is not None:
                fselector = fields.compile_selector(field_selector, custom.field_rules)
            else:
                fselector = fields.parse(field_selector, group=kind.group, resource=kind.resource)
        except ValueError as exc:
            raise errors.bad_request(str(exc)) from None
        checks.append(fselector.matches)
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    return lambda obj: all(check(obj) for check in checks)
