"""Validation of objects before they are stored: object metadata, per kind.

Why this module exists: an invalid object must be refused with the apiserver's 422 ``Invalid``
Status, naming every field and rule (``k8s.io/apimachinery/pkg/api/validation``
ValidateObjectMeta: the name format of the kind, namespace, labels, annotations, finalizers),
before anything is written. The rules themselves are pure (``apimachinery/names.py``); this
module applies them to a kind and raises the Status.
"""

from __future__ import annotations

from typing import Any

from kcp_edge.apimachinery import errors, names
from kcp_edge.registry.kinds import ResourceKind


def _raise(kind: ResourceKind, obj: dict[str, Any], errs: list[names.FieldError]) -> None:
    if not errs:
        return
    name = obj["metadata"].get("name") or ""
    raise errors.StatusError(
        code=422,
        reason="Invalid",
        message=names.invalid_message(kind=kind.kind, group=kind.group, name=name, errors=errs),
        details=names.invalid_details(kind=kind.kind, group=kind.group, name=name, errors=errs),
    )


def validate_metadata(kind: ResourceKind, obj: dict[str, Any]) -> None:
    """ObjectMeta rules, on a create (after generateName) and on every update."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise errors.bad_request("metadata must be an object")
    rule = names.name_rule_for(kind.group, kind.resource)
    _raise(kind, obj, names.validate_object_meta(meta, rule=rule, namespaced=kind.namespaced))
