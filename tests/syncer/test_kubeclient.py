"""The syncer's REST client against a real kcp-edge, and its kubeconfig reading from files.

Why this module exists: the sync engine trusts this client for every byte it exchanges with
kcp and with edge clusters, so it is tested against the real server over TLS with the admin
kubeconfig (CRUD, apply, watches, errors, the connection pool, TLS and token failures). What a
real server will not do on demand (drop a keep-alive connection at the wrong moment, split a
watch event across chunks, never answer, answer errors without a Status) is played by a small
plain-HTTP peer in this file. Tests run with ``asyncio.run``: pytest-asyncio is not installed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kcp_edge.auth.pki import ensure_serving_certificate, required_names
from syncer.kubeclient import ApiError, KubeClient
from syncer.kubeconfig import (
    ClientConfig,
    ConfigError,
    in_cluster_config,
    kubeconfig_yaml,
    load_kubeconfig,
)
from syncer.kubehttp import TOKEN_FILE_MAX_AGE, BearerToken
from tests.conftest import KcpServer, running_kcp

T = TypeVar("T")
USER_AGENT = "kcp-edge-tests/0 (syncer kubeclient)"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KcpServer]:
    base = tmp_path_factory.mktemp("kubeclient-kcp")
    with running_kcp(
        base / "kcp",
        "--storage-compaction-interval",
        "0.5",
        "--storage-history-revisions",
        "200",
        log=base / "kcp.log",
    ) as kcp:
        yield kcp


@pytest.fixture(scope="module")
def config(server: KcpServer) -> ClientConfig:
    return load_kubeconfig(server.kubeconfig)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def new_namespace(client: KubeClient) -> str:
    name = unique("kc")
    await client.create("/api/v1/namespaces", {"metadata": {"name": name}})
    return name


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


async def take(events: AsyncIterator[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    taken: list[dict[str, Any]] = []
    async for event in events:
        taken.append(event)
        if len(taken) == count:
            break
    return taken


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"]["name"]) for e in events]


# --- against the real server ------------------------------------------------------------------


def test_admin_kubeconfig_names_the_default_workspace(config: ClientConfig) -> None:
    assert config.server.endswith("/clusters/root:default")
    assert config.token and config.ca_pem
    client = KubeClient(config, user_agent=USER_AGENT)
    assert client.base_path == "/clusters/root:default"
    assert client.config is config


def test_get_list_create_replace_patch_delete(config: ClientConfig) -> None:
    async def main() -> None:
        async with KubeClient(config, user_agent=USER_AGENT) as client:
            ns = await new_namespace(client)
            path = f"/api/v1/namespaces/{ns}/configmaps"
            created = await client.create(path, configmap("x", a="1"))
            assert created["metadata"]["uid"] and created["data"] == {"a": "1"}
            got = await client.get(f"{path}/x")
            assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
            listed = await client.list(path, {"fieldSelector": "metadata.name=x"})
            assert listed["kind"] == "ConfigMapList"
            assert [i["metadata"]["name"] for i in listed["items"]] == ["x"]

            got["data"] = {"a": "2"}
            replaced = await client.replace(f"{path}/x", got)
            assert replaced["data"] == {"a": "2"}
            with pytest.raises(ApiError) as stale:
                await client.replace(f"{path}/x", got)  # the old resourceVersion
            assert stale.value.conflict and stale.value.reason == "Conflict"

            merged = await client.patch(f"{path}/x", {"data": {"b": "3"}}, "merge")
            assert merged["data"] == {"a": "2", "b": "3"}
            ops = [{"op": "remove", "path": "/data/a"}]
            patched = await client.patch(f"{path}/x", ops, "json")
            assert patched["data"] == {"b": "3"}
            strategic = await client.patch(f"{path}/x", {"data": {"c": "4"}}, "strategic")
            assert strategic["data"] == {"b": "3", "c": "4"}

            await client.delete(f"{path}/x")
            with pytest.raises(ApiError) as missing:
                await client.get(f"{path}/x")
            error = missing.value
            assert (error.code, error.reason) == (404, "NotFound")
            assert error.message == 'configmaps "x" not found' == str(error)
            assert error.not_found and not error.transport
            assert error.status is not None and error.status["kind"] == "Status"
            with pytest.raises(ApiError) as again:
                await client.delete(f"{path}/x")
            assert again.value.not_found

    run(main())


def test_create_twice_is_already_exists(config: ClientConfig) -> None:
    async def main() -> None:
        async with KubeClient(config, user_agent=USER_AGENT) as client:
            path = f"/api/v1/namespaces/{await new_namespace(client)}/configmaps"
            await client.create(path, configmap("dup"))
            with pytest.raises(ApiError) as exists:
                await client.create(path, configmap("dup"))
            assert (exists.value.code, exists.value.reason) == (409, "AlreadyExists")
            assert exists.value.message == 'configmaps "dup" already exists'

    run(main())


def test_apply_creates_then_changes_with_its_field_manager(config: ClientConfig) -> None:
    async def main() -> None:
        async with KubeClient(config, user_agent=USER_AGENT) as client:
            path = f"/api/v1/namespaces/{await new_namespace(client)}/configmaps/applied"
            first = await client.apply(path, configmap("applied", a="1", b="2"), field_manager="sy")
            assert first["data"] == {"a": "1", "b": "2"}
            managers = {m["manager"] for m in first["metadata"]["managedFields"]}
            assert managers == {"sy"}
            second = await client.apply(path, configmap("applied", a="9"), field_manager="sy")
            assert second["data"] == {"a": "9"}  # b was the manager's and is no longer applied
            assert second["metadata"]["uid"] == first["metadata"]["uid"]

    run(main())


def test_delete_options_are_sent(config: ClientConfig) -> None:
    async def main() -> None:
        async with KubeClient(config, user_agent=USER_AGENT) as client:
            path = f"/api/v1/namespaces/{await new_namespace(client)}/configmaps"
            created = await client.create(path, configmap("d"))
            with pytest.raises(ApiError) as wrong_uid:
                await client.delete(f"{path}/d", preconditions_uid="not-the-uid")
            assert wrong_uid.value.conflict
            with pytest.raises(ApiError) as bad_policy:
                await client.delete(f"{path}/d", propagation_policy="Sometimes")
            assert bad_policy.value.code == 422
            uid = created["metadata"]["uid"]
            await client.delete(f"{path}/d", propagation_policy="Background", preconditions_uid=uid)
            with pytest.raises(ApiError, match="not found"):
                await client.get(f"{path}/d")

    run(main())


def test_watch_added_modified_deleted_and_resume(config: ClientConfig) -> None:
    async def main() -> None:
        async with KubeClient(config, user_agent=USER_AGENT) as client:
            path = f"/api/v1/namespaces/{await new_namespace(client)}/configmaps"
            start = (await client.list(path))["metadata"]["resourceVersion"]
            query = {"resourceVersion": start, "fieldSelector": "metadata.name=w"}
            async with contextlib.aclosing(client.watch(path, query)) as events:
                await client.create(path, configmap("w", v="1"))
                added = await asyncio.wait_for(take(events, 1), 10)
                await client.patch(f"{path}/w", {"data": {"v": "2"}})  # while watching
                await client.delete(f"{path}/w")
                later = await asyncio.wait_for(take(events, 2), 10)
            assert summary(added + later) == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]
            assert later[0]["object"]["data"] == {"v": "2"}

            resume = {**query, "resourceVersion": added[0]["object"]["metadata"]["resourceVersion"]}
            async with contextlib.aclosing(client.watch(path, resume)) as events:
                replayed = await asyncio.wait_for(take(events, 2), 10)
            assert summary(replayed) == [("MODIFIED", "w"), ("DELETED", "w")]
            assert client.idle_connections <= 4

    run(main())


def test_watch_ends_when_the_server_ends_it(config: ClientConfig) -> None:
    async def main() -> None:
        async with KubeClient(config, user_agent=USER_AGENT) as client:
            path = f"/api/v1/namespaces/{await new_namespace(client)}/configmaps"
            await client.create(path, configmap("one"))
            events = [e async for e in client.watch(path, {"timeoutSeconds": "1"})]
            assert summary(events) == [("ADDED", "one")]

    run(main())


def test_watch_from_a_compacted_revision_is_an_error_event(config: ClientConfig) -> None:
    async def churn(client: KubeClient, path: str, name: str) -> None:
        await client.create(path, configmap(name))
        for i in range(45):
            await client.patch(f"{path}/{name}", {"data": {"i": str(i)}})

    async def first_event(client: KubeClient, path: str, rv: str) -> dict[str, Any]:
        query = {"resourceVersion": rv, "timeoutSeconds": "2"}
        async with contextlib.aclosing(client.watch(path, query)) as events:
            return (await asyncio.wait_for(take(events, 1), 10))[0]

    async def main() -> None:
        async with KubeClient(config, user_agent=USER_AGENT) as client:
            path = f"/api/v1/namespaces/{await new_namespace(client)}/configmaps"
            old = (await client.list(path))["metadata"]["resourceVersion"]
            await asyncio.gather(*(churn(client, path, f"c{i}") for i in range(6)))  # 276 writes
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while (event := await first_event(client, path, old))["type"] != "ERROR":
                assert loop.time() < deadline, "history was not compacted in time"
                await asyncio.sleep(0.2)
            status = event["object"]
            assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
            assert status["message"].startswith(f"too old resource version: {old} (")

    run(main())


def test_watch_with_an_error_status_raises(config: ClientConfig) -> None:
    async def main() -> None:
        async with KubeClient(config, user_agent=USER_AGENT) as client:
            with pytest.raises(ApiError) as missing:
                async for _ in client.watch("/api/v1/namespaces/default/nosuchthings", {}):
                    pass
            assert missing.value.code == 404

    run(main())


def test_closing_or_cancelling_a_watch_is_prompt(config: ClientConfig) -> None:
    async def main() -> None:
        async with KubeClient(config, user_agent=USER_AGENT) as client:
            path = f"/api/v1/namespaces/{await new_namespace(client)}/configmaps"
            await client.create(path, configmap("c"))
            events = client.watch(path, {"timeoutSeconds": "60"})
            assert (await asyncio.wait_for(anext(events), 10))["type"] == "ADDED"
            await asyncio.wait_for(events.aclose(), 1)

            watching = asyncio.Event()

            async def forever() -> None:
                async for _ in client.watch(path, {"timeoutSeconds": "60"}):
                    watching.set()

            task = asyncio.create_task(forever())
            await asyncio.wait_for(watching.wait(), 10)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, 1)
            assert (await client.get(f"{path}/c"))["metadata"]["name"] == "c"

    run(main())


def test_concurrent_requests_keep_at_most_max_idle_connections(config: ClientConfig) -> None:
    async def main() -> None:
        async with KubeClient(config, user_agent=USER_AGENT, max_idle=4) as client:
            path = f"/api/v1/namespaces/{await new_namespace(client)}/configmaps"
            await asyncio.gather(*(client.create(path, configmap(f"m{i}")) for i in range(5)))
            got = await asyncio.gather(*(client.get(f"{path}/m{i % 5}") for i in range(50)))
            assert [g["metadata"]["name"] for g in got] == [f"m{i % 5}" for i in range(50)]
            assert 1 <= client.idle_connections <= 4
            opened = client.connections_opened
            for _ in range(10):
                await client.get(f"{path}/m0")
            assert client.connections_opened == opened  # one idle connection carried them all
            await client.close()
            assert client.idle_connections == 0
            await client.get(f"{path}/m0")  # still usable after close
            assert client.connections_opened == opened + 1

    run(main())


def test_wrong_ca_is_a_transport_error(config: ClientConfig, tmp_path: Path) -> None:
    other = ensure_serving_certificate(
        cert_dir=tmp_path, names=required_names(bind_address="127.0.0.1", external_hostname=None)
    )

    async def main() -> None:
        async with KubeClient(replace(config, ca_pem=other.ca_pem), user_agent=USER_AGENT) as c:
            with pytest.raises(ApiError) as failed:
                await c.get("/api/v1/namespaces/default")
        error = failed.value
        assert error.transport and error.code is None and error.reason == ""
        assert "failed to verify certificate" in error.message
        assert error.message.startswith(f'Get "{config.server}/api/v1/namespaces/default": tls:')
        insecure = replace(config, ca_pem=None, insecure=True)
        async with KubeClient(insecure, user_agent=USER_AGENT) as c:
            assert (await c.get("/api/v1/namespaces/default"))["metadata"]["name"] == "default"

    run(main())


def test_tls_server_name_is_the_name_checked(config: ClientConfig) -> None:
    async def main() -> None:
        wrong = replace(config, tls_server_name="not-a-san.example")
        async with KubeClient(wrong, user_agent=USER_AGENT) as c:
            with pytest.raises(ApiError, match="failed to verify certificate"):
                await c.get("/version")
        right = replace(config, tls_server_name="localhost")
        async with KubeClient(right, user_agent=USER_AGENT) as c:
            assert "gitVersion" in await c.get("/version")

    run(main())


def test_wrong_token_is_401(config: ClientConfig) -> None:
    async def main() -> None:
        async with KubeClient(replace(config, token="nope"), user_agent=USER_AGENT) as c:
            with pytest.raises(ApiError) as denied:
                await c.get("/api/v1/namespaces/default")
        assert (denied.value.code, denied.value.reason) == (401, "Unauthorized")

    run(main())


def test_token_file_is_used(config: ClientConfig, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(f"{config.token}\n")

    async def main() -> None:
        from_file = replace(config, token="stale", token_file=str(token_file))
        async with KubeClient(from_file, user_agent=USER_AGENT) as c:
            assert (await c.get("/api/v1/namespaces/default"))["metadata"]["name"] == "default"
        missing = replace(config, token=None, token_file=str(tmp_path / "missing"))
        async with KubeClient(missing, user_agent=USER_AGENT) as c:
            with pytest.raises(ApiError, match="cannot read the token file") as failed:
                await c.get("/api/v1/namespaces/default")
            assert failed.value.transport

    run(main())


# --- token files, client certificates (no server) ---------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_file_is_reread_after_a_minute_when_it_changed(tmp_path: Path) -> None:
    token_file, clock = tmp_path / "token", Clock()
    token_file.write_text("one\n")
    token = BearerToken("fixed", str(token_file), clock=clock)
    assert token.current() == "one"
    token_file.write_text("two")
    clock.now += TOKEN_FILE_MAX_AGE - 1
    assert token.current() == "one"
    clock.now += 1
    assert token.current() == "two"
    token_file.unlink()
    clock.now += TOKEN_FILE_MAX_AGE
    assert token.current() == "two"  # the last good token is kept
    assert BearerToken("fixed", None).current() == "fixed"
    assert BearerToken("fixed", str(token_file)).current() == "fixed"  # unreadable: the fixed one
    with pytest.raises(OSError, match="cannot read the token file"):
        BearerToken(None, str(token_file)).current()


def self_signed(common_name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def test_client_certificates_load_or_fail_clearly() -> None:
    cert, key = self_signed("syncer")
    _, other_key = self_signed("other")
    base = ClientConfig(server="https://127.0.0.1:6443")
    KubeClient(replace(base, client_cert_pem=cert, client_key_pem=key), user_agent=USER_AGENT)
    with pytest.raises(ConfigError, match="cannot load the client certificate"):
        KubeClient(
            replace(base, client_cert_pem=cert, client_key_pem=other_key), user_agent=USER_AGENT
        )
    with pytest.raises(ConfigError, match="without its key"):
        KubeClient(replace(base, client_cert_pem=cert), user_agent=USER_AGENT)
    with pytest.raises(ConfigError, match="CA certificates"):
        KubeClient(replace(base, ca_pem=b"not a certificate"), user_agent=USER_AGENT)
    with pytest.raises(ConfigError, match="invalid server URL"):
        KubeClient(ClientConfig(server="ftp://example.com"), user_agent=USER_AGENT)


# --- a plain-HTTP peer for what a real server will not do on demand ---------------------------

Answer = Callable[[int, bytes], Awaitable[bytes | None]]
"""(index of the request on its connection, request head) -> raw answer, or None: hang up."""


def raw_json(
    code: int, body: bytes, *, reason: str = "X", media: str = "application/json"
) -> bytes:
    head = f"HTTP/1.1 {code} {reason}\r\nContent-Type: {media}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


@contextlib.asynccontextmanager
async def peer(answer: Answer) -> AsyncIterator[tuple[ClientConfig, list[bytes]]]:
    heads: list[bytes] = []
    handlers: set[asyncio.Task[Any]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.add(asyncio.current_task())  # type: ignore[arg-type]  # always in a task
        index = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                heads.append(head)
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        await reader.readexactly(int(line.split(b":")[1]))
                reply = await answer(index, head)
                if reply is None:
                    return
                writer.write(reply)
                await writer.drain()
                index += 1
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            return  # ending cancelled would make asyncio log an error (3.11 streams callback)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield ClientConfig(server=f"http://127.0.0.1:{port}/prefix/", token="t"), heads
    finally:
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers)
        await server.wait_closed()


def test_plain_http_headers_and_a_path_prefix() -> None:
    async def answer(index: int, head: bytes) -> bytes:
        return raw_json(200, b'{"kind":"Thing"}' if index == 0 else b"")

    async def main() -> None:
        async with (
            peer(answer) as (config, heads),
            KubeClient(config, user_agent=USER_AGENT) as client,
        ):
            assert client.base_path == "/prefix"
            query = {"labelSelector": "a in (b,c)", "limit": "5"}
            assert await client.get("/clusters/root:org:ws/api/v1/pods", query) == {"kind": "Thing"}
            assert await client.get("/empty") == {}
        request = heads[0].decode()
        assert request.startswith(
            "GET /prefix/clusters/root:org:ws/api/v1/pods"
            "?labelSelector=a+in+%28b%2Cc%29&limit=5 HTTP/1.1\r\n"
        )
        lines = {
            line.split(": ", 1)[0].lower(): line.split(": ", 1)[1]
            for line in request.split("\r\n")[1:]
            if line
        }
        assert lines["host"] == config.server.removeprefix("http://").split("/")[0]
        assert lines["authorization"] == "Bearer t"
        assert lines["accept"] == "application/json"
        assert lines["user-agent"] == USER_AGENT

    run(main())


def test_a_get_on_a_dropped_keep_alive_connection_is_retried_once() -> None:
    async def answer(index: int, head: bytes) -> bytes | None:
        # Answers one request per connection, then hangs up on the next without a word.
        return raw_json(200, b'{"ok":true}') if index == 0 else None

    async def main() -> None:
        async with peer(answer) as (config, _), KubeClient(config, user_agent=USER_AGENT) as client:
            await client.get("/a")
            assert (client.connections_opened, client.idle_connections) == (1, 1)
            assert await client.get("/b") == {"ok": True}
            assert client.connections_opened == 2  # the dropped one, then a fresh one
            with pytest.raises(ApiError) as failed:
                await client.create("/c", {})  # not retried: it may have been applied
            assert failed.value.transport
            assert "closed the connection" in failed.value.message

    run(main())


def test_error_answers_without_a_status_get_generic_words() -> None:
    answers = {
        "/missing": raw_json(404, b"404 page not found", media="text/plain"),
        "/broken": raw_json(500, b"boom", media="text/plain"),
        "/denied": raw_json(403, b"no way", media="text/plain"),
        "/notjson": raw_json(200, b"<html>"),
        "/list": raw_json(200, b"[1]"),
    }

    async def answer(index: int, head: bytes) -> bytes:
        return answers[head.split(b" ")[1].decode().removeprefix("/prefix")]

    async def main() -> None:
        async with peer(answer) as (config, _), KubeClient(config, user_agent=USER_AGENT) as client:
            errors = {}
            for path in answers:
                with pytest.raises(ApiError) as failed:
                    await client.get(path)
                errors[path] = (failed.value.code, failed.value.reason, failed.value.message)
        assert errors["/missing"] == (
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        assert errors["/broken"] == (
            500,
            "InternalError",
            'an error on the server ("boom") has prevented the request from succeeding',
        )
        assert errors["/denied"] == (403, "Forbidden", "no way")
        assert errors["/notjson"][0] == 200 and "not JSON" in errors["/notjson"][2]
        assert "not a JSON object" in errors["/list"][2]

    run(main())


def test_no_answer_in_time_is_a_transport_error() -> None:
    async def answer(index: int, head: bytes) -> bytes:
        await asyncio.sleep(30)
        return b""

    async def main() -> None:
        async with (
            peer(answer) as (config, _),
            KubeClient(config, user_agent=USER_AGENT, timeout=0.3) as client,
        ):
            with pytest.raises(ApiError, match=r"no answer within 0\.3 s") as slow:
                await client.get("/slow")
            assert slow.value.transport
            with pytest.raises(ApiError, match=r"no answer within 0\.1 s"):
                await client.request("GET", "/slow", timeout=0.1)
            assert client.idle_connections == 0

    run(main())


def test_watch_events_split_across_chunks() -> None:
    chunks = [
        b'{"type":"ADDED","obj',
        b'ect":{"n":1}}\n{"type":"MODIFIED","object":{"n":2}}\n\n{"ty',
        b'pe":"DELETED","object":{"n":3}}',
    ]
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"

    async def answer(index: int, head: bytes) -> bytes:
        assert b"watch=1" in head
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body

    async def main() -> None:
        async with peer(answer) as (config, heads):
            client = KubeClient(config, user_agent=USER_AGENT)
            events = [e async for e in client.watch("/w", {"resourceVersion": "7"})]
            assert heads[0].startswith(b"GET /prefix/w?resourceVersion=7&watch=1 ")
            assert client.idle_connections == 0  # a watch connection is never pooled
        assert [(e["type"], e["object"]["n"]) for e in events] == [
            ("ADDED", 1),
            ("MODIFIED", 2),
            ("DELETED", 3),
        ]

    run(main())


def test_watch_idle_timeout() -> None:
    async def answer(index: int, head: bytes) -> bytes:
        return b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n'

    async def main() -> None:
        async with peer(answer) as (config, _):
            client = KubeClient(config, user_agent=USER_AGENT)
            with pytest.raises(ApiError, match=r"no data within 0\.2 s") as idle:
                async for _ in client.watch("/w", {}, idle_timeout=0.2):
                    pass
            assert idle.value.transport

    run(main())


# --- kubeconfig files ------------------------------------------------------------------------

CA = b"-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n"


def write_kubeconfig(directory: Path, **changes: Any) -> Path:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "edge",
                "cluster": {
                    "server": "https://edge.example:6443/",
                    "certificate-authority": "certs/ca.crt",
                    "tls-server-name": "api.edge",
                },
            },
            {
                "name": "kcp",
                "cluster": {
                    "server": "https://kcp.example/clusters/root:org",
                    "certificate-authority-data": base64.b64encode(CA).decode(),
                },
            },
            {
                "name": "lab",
                "cluster": {"server": "http://10.0.0.1:8080", "insecure-skip-tls-verify": True},
            },
        ],
        "users": [
            {"name": "token-user", "user": {"token": "abc"}},
            {"name": "file-user", "user": {"tokenFile": "secrets/token"}},
            {"name": "exec-user", "user": {"exec": {"command": "aws"}}},
            {"name": "oidc-user", "user": {"auth-provider": {"name": "oidc"}}},
        ],
        "contexts": [
            {"name": "edge", "context": {"cluster": "edge", "user": "file-user", "namespace": "n"}},
            {"name": "kcp", "context": {"cluster": "kcp", "user": "token-user"}},
            {"name": "lab", "context": {"cluster": "lab"}},
            {"name": "exec", "context": {"cluster": "kcp", "user": "exec-user"}},
            {"name": "oidc", "context": {"cluster": "kcp", "user": "oidc-user"}},
            {"name": "lost", "context": {"cluster": "nowhere", "user": "token-user"}},
        ],
        "current-context": "kcp",
    }
    doc.update(changes)
    (directory / "certs").mkdir(exist_ok=True)
    (directory / "certs" / "ca.crt").write_bytes(CA)
    path = directory / "config"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_kubeconfig_current_context(tmp_path: Path) -> None:
    config = load_kubeconfig(write_kubeconfig(tmp_path))
    assert config == ClientConfig(
        server="https://kcp.example/clusters/root:org", ca_pem=CA, token="abc"
    )


def test_kubeconfig_named_context_with_relative_paths(tmp_path: Path) -> None:
    config = load_kubeconfig(str(write_kubeconfig(tmp_path)), context="edge")
    assert config == ClientConfig(
        server="https://edge.example:6443",
        ca_pem=CA,
        tls_server_name="api.edge",
        token_file=str(tmp_path / "secrets" / "token"),
        namespace="n",
    )
    lab = load_kubeconfig(tmp_path / "config", "lab")
    assert (lab.server, lab.insecure, lab.token) == ("http://10.0.0.1:8080", True, None)


@pytest.mark.parametrize(
    ("changes", "context", "message"),
    [
        ({}, "missing", 'context "missing" not found'),
        ({"current-context": ""}, None, "no context given and no current-context set"),
        ({}, "lost", 'cluster "nowhere" of context "lost" not found'),
        ({}, "exec", 'user "exec-user" uses an exec credential plugin, which the syncer does not'),
        ({}, "oidc", 'user "oidc-user" uses an auth-provider plugin'),
    ],
)
def test_kubeconfig_errors_name_the_file_and_entry(
    tmp_path: Path, changes: dict[str, Any], context: str | None, message: str
) -> None:
    path = write_kubeconfig(tmp_path, **changes)
    with pytest.raises(ConfigError) as failed:
        load_kubeconfig(path, context)
    assert str(failed.value).startswith(f"kubeconfig {path}: {message}")


def test_kubeconfig_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read it"):
        load_kubeconfig(tmp_path / "absent")
    (tmp_path / "bad").write_text("clusters: [")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_kubeconfig(tmp_path / "bad")
    path = write_kubeconfig(tmp_path)
    (tmp_path / "certs" / "ca.crt").unlink()
    with pytest.raises(ConfigError, match=r"cannot read certificate-authority certs/ca\.crt"):
        load_kubeconfig(path, "edge")
    both = {
        "server": "https://x",
        "certificate-authority-data": "QQ==",
        "insecure-skip-tls-verify": True,
    }
    doc = yaml.safe_load(path.read_text())
    doc["clusters"][1]["cluster"] = both
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match="with the insecure flag is not allowed"):
        load_kubeconfig(path)
    doc["clusters"][1]["cluster"] = {"server": "kcp.example:6443"}
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match=r'invalid server URL "kcp\.example:6443"'):
        load_kubeconfig(path)


def test_in_cluster_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ConfigError) as outside:
        in_cluster_config(directory=tmp_path)
    assert str(outside.value) == "not running in a cluster: KUBERNETES_SERVICE_HOST is not set"
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_bytes(CA)
    (tmp_path / "namespace").write_text("kcp-syncer-x\n")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    assert in_cluster_config(directory=tmp_path) == ClientConfig(
        server="https://10.96.0.1:443",
        ca_pem=CA,
        token_file=str(tmp_path / "token"),
        namespace="kcp-syncer-x",
    )
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1")
    assert in_cluster_config(directory=tmp_path).server == "https://[fd00:10:96::1]:443"
    (tmp_path / "token").unlink()
    with pytest.raises(ConfigError, match="no service account token"):
        in_cluster_config(directory=tmp_path)


def test_kubeconfig_yaml_round_trips(tmp_path: Path, config: ClientConfig) -> None:
    cert, key = self_signed("syncer")
    full = ClientConfig(
        server="https://kcp.example:6443/clusters/root:org:ws",
        ca_pem=CA,
        tls_server_name="kcp.internal",
        token="s3cret-token",
        token_file="/var/run/token",
        client_cert_pem=cert,
        client_key_pem=key,
        namespace="ns",
    )
    for original in (full, config, ClientConfig(server="http://h", insecure=True)):
        path = tmp_path / "written"
        path.write_text(kubeconfig_yaml(original, context_name="ctx", user_name="u"))
        assert load_kubeconfig(path) == original
        assert load_kubeconfig(path, "ctx") == original
    assert "s3cret" not in repr(full) and "PRIVATE KEY" not in repr(full)
