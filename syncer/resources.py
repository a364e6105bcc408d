"""Which API a synced resource is, on either side: discovery, and the URLs of its objects.

Why this module exists: the engine is told resources the way users write them
(``deployments.apps``, ``secrets``) and must find their version, kind and subresources on the
edge cluster (the truth for API import) and wait until the workspace serves them (after
negotiation). Building object paths in one place keeps ``/api`` versus ``/apis`` and the
namespace segment right everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from syncer.kubeclient import ApiError, KubeClient

DEFAULT_RESOURCES = ("configmaps", "deployments.apps", "secrets", "serviceaccounts")


class ResourceNotServedError(LookupError):
    """A requested resource is not served (yet) by a cluster."""


@dataclass(frozen=True)
class Resource:
    """One synced resource, as the edge cluster serves it."""

    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool
    status: bool
    scale: bool = False
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """``deployments.apps``; ``secrets`` for the core group."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def base(self, prefix: str = "") -> str:
        if self.group:
            return f"{prefix}/apis/{self.group}/{self.version}"
        return f"{prefix}/api/{self.version}"

    def collection(self, prefix: str = "") -> str:
        return f"{self.base(prefix)}/{self.resource}"

    def object_path(self, prefix: str, namespace: str, name: str) -> str:
        if self.namespaced:
            return f"{self.base(prefix)}/namespaces/{namespace}/{self.resource}/{name}"
        return f"{self.base(prefix)}/{self.resource}/{name}"


def normalized(requested: Sequence[str]) -> list[str]:
    """The user's resources unioned with the defaults, sorted and without duplicates; a
    comma-separated entry counts as several."""
    names = {part.strip() for entry in requested for part in entry.split(",") if part.strip()}
    return sorted(names | set(DEFAULT_RESOURCES))


def split_name(name: str) -> tuple[str, str]:
    """``deployments.apps`` -> (``deployments``, ``apps``); ``secrets`` -> (``secrets``, "")."""
    resource, _, group = name.partition(".")
    return resource, group


async def discover(client: KubeClient, name: str, prefix: str = "") -> Resource:
    """``name`` as ``client``'s cluster serves it (its preferred version)."""
    resource, group = split_name(name)
    try:
        if group:
            info = await client.get(f"{prefix}/apis/{group}")
            version = str(info["preferredVersion"]["version"])
            listing = await client.get(f"{prefix}/apis/{group}/{version}")
        else:
            version = "v1"
            listing = await client.get(f"{prefix}/api/v1")
    except ApiError as exc:
        if exc.code == 404:
            raise ResourceNotServedError(name) from exc
        raise
    return _from_listing(listing.get("resources") or [], resource, group, version, name)


def _from_listing(
    entries: list[dict[str, Any]], resource: str, group: str, version: str, name: str
) -> Resource:
    names = {entry.get("name") for entry in entries}
    for entry in entries:
        if entry.get("name") != resource:
            continue
        return Resource(
            group=group,
            version=version,
            resource=resource,
            kind=str(entry.get("kind", "")),
            namespaced=bool(entry.get("namespaced")),
            status=f"{resource}/status" in names,
            scale=f"{resource}/scale" in names,
            singular=str(entry.get("singularName") or ""),
            short_names=tuple(entry.get("shortNames") or ()),
            categories=tuple(entry.get("categories") or ()),
        )
    raise ResourceNotServedError(name)
