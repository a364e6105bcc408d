"""Validation of objects before they are stored: object metadata, per kind.

Why this module exists: an invalid object must be refused with the apiserver's 422 ``Invalid``
Status, naming every field and rule (``k8s.io/apimachinery/pkg/api/validation``
ValidateObjectMeta: the name format of the kind, namespace, labels, annotations, finalizers),
before anything is written. The rules themselves are pure (``apimachinery/names.py``); this
module applies them to a kind and raises the Status.
"""

from __future__ import annotations

import re
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


_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_CONFIG_KEY_MSG = names.regex_error(
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
    "[-._a-zA-Z0-9]+",
    "key.name",
    "KEY_NAME",
    "key-name",
)
_KEYED_FIELDS = {
    ("", "configmaps"): ("data", "binaryData"),
    ("", "secrets"): ("data", "stringData"),
}


def _config_keys(kind: ResourceKind, obj: dict[str, Any]) -> list[names.FieldError]:
    """ConfigMap and Secret keys: ``IsConfigMapKey`` (``ValidateConfigMap``/``ValidateSecret``)."""
    errs: list[names.FieldError] = []
    for field in _KEYED_FIELDS.get((kind.group, kind.resource), ()):
        value = obj.get(field)
        if not isinstance(value, dict):
            continue
        for key in value:
            if len(key) > 253:
                errs.append(names.invalid(f"{field}[{key}]", key, names.max_len_error(253)))
            elif key in (".", ".."):
                errs.append(names.invalid(f"{field}[{key}]", key, f"must not be '{key}'"))
            elif not _CONFIG_KEY.match(key):
                errs.append(names.invalid(f"{field}[{key}]", key, _CONFIG_KEY_MSG))
    return errs


def validate_metadata(kind: ResourceKind, obj: dict[str, Any]) -> None:
    """ObjectMeta rules and the kind's own key rules, on create (after generateName) and on
    every update."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise errors.bad_request("metadata must be an object")
    rule = names.name_rule_for(kind.group, kind.resource)
    errs = names.validate_object_meta(meta, rule=rule, namespaced=kind.namespaced)
    _raise(kind, obj, [*errs, *_config_keys(kind, obj)])
