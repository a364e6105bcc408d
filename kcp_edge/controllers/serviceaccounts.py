"""Token Secrets for service accounts, as kube's token controller (and kcp 2022) made them.

Why this module exists: kcp's 2022 ``kubectl kcp workload sync`` reads the syncer's token from
``serviceAccount.secrets[0]``, and tools still create ``kubernetes.io/service-account-token``
Secrets to get a long-lived token. This one task watches service accounts and Secrets of every
workspace: a service account without token Secret gets one (``<name>-token-<5 chars>``, listed
in its ``secrets``), and every token Secret gets ``data.token`` (a never-expiring token bound
to its workspace), ``ca.crt`` and ``namespace``. It never creates service accounts itself (no
``default`` one per namespace: workspaces stay cheap; a decision, see docs/api.md).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
from typing import Any

import orjson

from kcp_edge.apimachinery.errors import StatusError
from kcp_edge.auth.serviceaccounts import TokenIssuer
from kcp_edge.registry import codec, keys
from kcp_edge.registry.catalog import Catalog
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.store import CLUSTER_ANNOTATION, ObjectStore
from kcp_edge.storage import EventType, StorageError

log = logging.getLogger(__name__)

TOKEN_TYPE = "kubernetes.io/service-account-token"  # noqa: S105 - a Secret type, not a secret
NAME_ANNOTATION = "kubernetes.io/service-account.name"
UID_ANNOTATION = "kubernetes.io/service-account.uid"
RETRY_SECONDS = 1.0
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # as utilrand.String: no vowels, no look-alikes
Obj = dict[str, Any]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class ServiceAccountTokens:
    """One task: token Secrets for service accounts, and tokens in token Secrets."""

    def __init__(
        self, *, catalog: Catalog, objects: ObjectStore, issuer: TokenIssuer, ca_pem: bytes
    ) -> None:
        accounts = catalog.lookup("root", "", "v1", "serviceaccounts")
        secret_kind = catalog.lookup("root", "", "v1", "secrets")
        assert accounts is not None and secret_kind is not None
        self._accounts: ResourceKind = accounts
        self._secrets: ResourceKind = secret_kind
        self._objects = objects
        self._issuer = issuer
        self._ca = _b64(ca_pem)

    async def run(self) -> None:
        while True:
            try:
                kinds = (self._accounts, self._secrets)
                tasks = [asyncio.create_task(self._follow(kind)) for kind in kinds]
                try:
                    await asyncio.gather(*tasks)
                finally:  # one failed: stop the other too before starting over
                    for task in tasks:
                        task.cancel()
            except (StatusError, StorageError):
                log.exception("service-account tokens: watch failed; starting over")
            await asyncio.sleep(RETRY_SECONDS)

    async def _follow(self, kind: ResourceKind) -> None:
        page = self._objects.list(kind, "*", "")
        for raw in page.items:
            obj: Obj = orjson.loads(raw)
            cluster = obj["metadata"]["annotations"].pop(CLUSTER_ANNOTATION)
            await self._consider(kind, cluster, obj)
        watch = self._objects.watch(kind, "*", "", page.revision)
        try:
            async for event in watch:
                if event.type is EventType.DELETE:
                    continue
                cluster = keys.split_key(event.kv.key)[0]
                await self._consider(kind, cluster, codec.decode(event.kv.value, event.revision))
        finally:
            watch.close()

    async def _consider(self, kind: ResourceKind, cluster: str, obj: Obj) -> None:
        try:
            if kind is self._accounts:
                await self._ensure_secret(cluster, obj)
            else:
                await self._fill(cluster, obj)
        except StatusError as exc:
            if exc.code not in (404, 409):
                log.warning("service-account tokens in %s: %s", cluster, exc.message)

    async def _ensure_secret(self, cluster: str, account: Obj) -> None:
        meta = account["metadata"]
        if account.get("secrets") or meta.get("deletionTimestamp"):
            return
        name = f"{meta['name']}-token-{''.join(secrets.choice(_ALPHABET) for _ in range(5))}"
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": TOKEN_TYPE,
            "metadata": {
                "name": name,
                "annotations": {NAME_ANNOTATION: meta["name"], UID_ANNOTATION: meta["uid"]},
            },
        }
        self._with_token(cluster, meta["namespace"], secret, meta["name"], meta["uid"])
        await self._objects.create(self._secrets, cluster, meta["namespace"], secret)

        def listed(fresh: Obj) -> Obj:
            if not fresh.get("secrets"):
                fresh["secrets"] = [{"name": name}]
            return fresh

        await self._objects.update(self._accounts, cluster, meta["namespace"], meta["name"], listed)

    async def _fill(self, cluster: str, secret: Obj) -> None:
        if secret.get("type") != TOKEN_TYPE or (secret.get("data") or {}).get("token"):
            return
        meta = secret["metadata"]
        account_name = (meta.get("annotations") or {}).get(NAME_ANNOTATION)
        if not account_name:
            return
        account = self._objects.get(self._accounts, cluster, meta["namespace"], account_name)
        uid = account["metadata"]["uid"]

        def filled(fresh: Obj) -> Obj:
            self._with_token(cluster, meta["namespace"], fresh, account_name, uid)
            fresh["metadata"].setdefault("annotations", {})[UID_ANNOTATION] = uid
            return fresh

        await self._objects.update(self._secrets, cluster, meta["namespace"], meta["name"], filled)

    def _with_token(
        self, cluster: str, namespace: str, secret: Obj, account: str, uid: str
    ) -> None:
        token = self._issuer.issue_legacy(
            cluster=cluster,
            namespace=namespace,
            sa_name=account,
            sa_uid=uid,
            secret_name=secret["metadata"]["name"],
        )
        data = secret.setdefault("data", {})
        data.update(token=_b64(token.encode()), namespace=_b64(namespace.encode()))
        data["ca.crt"] = self._ca
