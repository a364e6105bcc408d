"""The workspace model: system CRDs per type, nesting rules, Workspace admission, cluster names.

Expected words are kcp's (``pkg/admission/clusterworkspace``, ``clusterworkspacetypeexists``,
``clusterworkspacetype``; ``pkg/server`` cluster regex) where kcp has them, else our own in
kcp's style (the nesting messages).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from kcp_edge.apimachinery import structural
from kcp_edge.apimachinery.errors import StatusError
from kcp_edge.registry import crds
from kcp_edge.tenancy import workspaces as ws
from kcp_edge.tenancy.systemcrds import system_crd_uid

BASE = "https://127.0.0.1:6443"


def check(schema: Any, path: str) -> list[dict[str, str]]:
    return structural.check_structural(schema, field_path=path)


def workspace(name: str, kind: str | None = None, **status: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "tenancy.kcp.dev/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": name},
        "spec": {"type": kind} if kind else {},
    }
    if status:
        obj["status"] = status
    return obj


def forbidden(exc: pytest.ExceptionInfo[StatusError]) -> str:
    assert exc.value.code == 403
    assert exc.value.reason == "Forbidden"
    return exc.value.message


# --- system CRDs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("root", ["workspaces.tenancy.kcp.dev", "clusterworkspacetypes.tenancy.kcp.dev"]),
        ("Organization", ["workspaces.tenancy.kcp.dev", "clusterworkspacetypes.tenancy.kcp.dev"]),
        ("Team", ["workspaces.tenancy.kcp.dev", "clusterworkspacetypes.tenancy.kcp.dev"]),
        (
            "Universal",
            [
                "workloadclusters.workload.kcp.dev",
                "apiresourceimports.apiresource.kcp.dev",
                "negotiatedapiresources.apiresource.kcp.dev",
            ],
        ),
        (
            "Custom",
            [
                "workloadclusters.workload.kcp.dev",
                "apiresourceimports.apiresource.kcp.dev",
                "negotiatedapiresources.apiresource.kcp.dev",
            ],
        ),
    ],
)
def test_system_crds_per_type(kind: str, expected: list[str]) -> None:
    assert [c["metadata"]["name"] for c in ws.system_crds(kind)] == expected


@pytest.mark.parametrize("kind", ["root", "Universal"])
def test_system_crds_are_valid_established_and_structural(kind: str) -> None:
    for crd in ws.system_crds(kind):
        assert crds.validate_crd(crd, old=None, check_schema=check) == []
        assert crds.is_established(crd)
        assert crds.condition(crd, "NamesAccepted")["status"] == "True"  # type: ignore[index]
        for version in crd["spec"]["versions"]:
            schema = version["schema"]["openAPIV3Schema"]
            assert structural.check_structural(schema, field_path="s") == []
        name = crd["metadata"]["name"]
        assert crd["metadata"]["uid"] == system_crd_uid(name)
        assert uuid.UUID(crd["metadata"]["uid"]).version == 5
        assert crd["status"]["storedVersions"] == [crd["spec"]["versions"][0]["name"]]


def test_system_crds_are_memoised() -> None:
    first, again = ws.system_crds("Organization"), ws.system_crds("organization")
    assert all(a is b for a, b in zip(first, again, strict=True))
    assert ws.system_crds("root")[0] is first[0]
    assert system_crd_uid("workspaces.tenancy.kcp.dev") == system_crd_uid(
        "workspaces.tenancy.kcp.dev"
    )


def _kinds(kind: str) -> dict[str, Any]:
    return {k.resource: k for crd in ws.system_crds(kind) for k in crds.served_kinds(crd)}


def test_served_kinds_of_tenancy() -> None:
    kinds = _kinds("root")
    wsk = kinds["workspaces"]
    assert (wsk.group, wsk.version, wsk.kind, wsk.singular) == (
        "tenancy.kcp.dev",
        "v1beta1",
        "Workspace",
        "workspace",
    )
    assert wsk.namespaced is False
    assert wsk.categories == ("kcp",)
    assert wsk.short_names == ()
    assert wsk.subresources == ("status",)
    served = crds.served_version(wsk)
    assert served is not None
    assert [(c["name"], c["jsonPath"]) for c in served.printer_columns] == [
        ("Type", ".spec.type"),
        ("Phase", ".status.phase"),
        ("URL", ".status.URL"),
    ]
    cwt = kinds["clusterworkspacetypes"]
    assert (cwt.group, cwt.version, cwt.kind, cwt.namespaced, cwt.categories) == (
        "tenancy.kcp.dev",
        "v1alpha1",
        "ClusterWorkspaceType",
        False,
        ("kcp",),
    )


def test_served_kinds_of_universal() -> None:
    kinds = _kinds("Universal")
    assert set(kinds) == {"workloadclusters", "apiresourceimports", "negotiatedapiresources"}
    wc = kinds["workloadclusters"]
    assert (wc.group, wc.version, wc.kind, wc.namespaced, wc.categories) == (
        "workload.kcp.dev",
        "v1alpha1",
        "WorkloadCluster",
        False,
        ("kcp",),
    )
    served = crds.served_version(wc)
    assert served is not None
    assert [(c["name"], c["jsonPath"], c.get("priority")) for c in served.printer_columns] == [
        ("Location", ".metadata.name", 1),
        ("Ready", '.status.conditions[?(@.type=="Ready")].status', 2),
        ("Synced API resources", ".status.syncedResources", 3),
    ]
    for resource, kind in (
        ("apiresourceimports", "APIResourceImport"),
        ("negotiatedapiresources", "NegotiatedAPIResource"),
    ):
        found = kinds[resource]
        assert (found.group, found.version, found.kind, found.namespaced) == (
            "apiresource.kcp.dev",
            "v1alpha1",
            kind,
            False,
        )
        assert found.categories == ("kcp",)


def test_workspace_schema_defaults_and_validates() -> None:
    compiled = structural.CompiledSchema.compile(
        ws.system_crds("root")[0]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    )
    obj = workspace("a")
    del obj["spec"]
    compiled.default(obj)
    assert obj["spec"] == {"type": "Universal"}
    bad = compiled.validate(workspace("a", "team"))
    assert [c["field"] for c in bad] == ["spec.type"]
    assert compiled.validate(workspace("a", "Team", URL="u", phase="Ready")) == []


def test_workload_cluster_schema() -> None:
    compiled = structural.CompiledSchema.compile(
        _kinds("Universal")["workloadclusters"].definition.schema
    )
    obj: dict[str, Any] = {"apiVersion": "workload.kcp.dev/v1alpha1", "kind": "WorkloadCluster"}
    obj["spec"] = {}
    compiled.default(obj)
    assert obj["spec"] == {"unschedulable": False}
    obj["status"] = {"lastSyncerHeartbeatTime": "2022-05-04T00:00:00Z", "syncedResources": ["x"]}
    assert compiled.validate(obj) == []
    obj["spec"]["evictAfter"] = "tomorrow"
    assert [c["field"] for c in compiled.validate(obj)] == ["spec.evictAfter"]


def test_api_import_schemas_are_permissive() -> None:
    compiled = structural.CompiledSchema.compile(
        _kinds("Universal")["apiresourceimports"].definition.schema
    )
    obj: dict[str, Any] = {"spec": {"anything": {"deep": [1]}}, "status": {"x": 1}}
    assert compiled.prune(obj) == []
    assert obj["spec"] == {"anything": {"deep": [1]}}


# --- nesting ------------------------------------------------------------------------------------

CUSTOM = {
    "clusterworkspacetype": ws.ClusterWorkspaceType.from_object(
        {
            "apiVersion": "tenancy.kcp.dev/v1alpha1",
            "kind": "ClusterWorkspaceType",
            "metadata": {"name": "clusterworkspacetype"},
        }
    )
}


@pytest.mark.parametrize(
    ("parent", "child"),
    [
        ("root", "Organization"),
        ("Organization", "Team"),
        ("Organization", "Universal"),
        ("Team", "Universal"),
        ("organization", "universal"),
    ],
)
def test_allowed_nesting(parent: str, child: str) -> None:
    assert ws.allowed_child(parent, child, {}) is None
    assert ws.nesting_error("x", parent, child, {}) is None


ORG_IN_ROOT = 'workspace type "Organization" may only be created in root'


@pytest.mark.parametrize(
    ("parent", "child", "message"),
    [
        (
            "Organization",
            "Organization",
            'workspace type "Organization" may only be created in root',
        ),
        ("Team", "Organization", 'workspace type "Organization" may only be created in root'),
        ("Universal", "Organization", 'workspace type "Organization" may only be created in root'),
        (
            "root",
            "Team",
            'workspace type "Team" may only be created in a workspace of type "Organization"',
        ),
        (
            "Team",
            "Team",
            'workspace type "Team" may only be created in a workspace of type "Organization"',
        ),
        (
            "root",
            "Universal",
            'workspace type "Universal" may only be created in a workspace of type '
            '"Organization" or "Team"',
        ),
        (
            "Universal",
            "Universal",
            'workspace type "Universal" may only be created in a workspace of type '
            '"Organization" or "Team"',
        ),
        ("Organization", "Foo", 'spec.type "Foo" does not exist'),
    ],
)
def test_refused_nesting(parent: str, child: str, message: str) -> None:
    assert ws.allowed_child(parent, child, {}) == message
    err = ws.nesting_error("x", parent, child, {})
    assert err is not None
    assert (err.code, err.reason) == (403, "Forbidden")
    assert err.message == f'workspaces.tenancy.kcp.dev "x" is forbidden: {message}'
    assert err.details == {"name": "x", "group": "tenancy.kcp.dev", "kind": "workspaces"}


def _cwt(name: str, **spec: Any) -> ws.ClusterWorkspaceType:
    return ws.ClusterWorkspaceType.from_object({"metadata": {"name": name}, "spec": spec})


def test_cluster_workspace_type_from_object() -> None:
    cwt = _cwt(
        "lab",
        initializers=["initializers.tenancy.kcp.dev/lab"],
        additionalWorkspaceLabels={"workloads.kcp.dev/schedulable": "true", "bad": 1},
        allowedParentWorkspaceTypes=["Organization", "Team"],
        allowedChildWorkspaceTypes=["Universal"],
    )
    assert cwt == ws.ClusterWorkspaceType(
        name="lab",
        initializers=("initializers.tenancy.kcp.dev/lab",),
        additional_workspace_labels={"workloads.kcp.dev/schedulable": "true"},
        allowed_parents=("Organization", "Team"),
        allowed_children=("Universal",),
    )
    assert ws.ClusterWorkspaceType.from_object({}) == ws.ClusterWorkspaceType(name="")
    assert _cwt("x").parents() == ("Organization",)


def test_custom_types() -> None:
    lab = _cwt("lab")
    assert ws.allowed_child("Organization", "Lab", {"lab": lab}) is None
    # custom types live in the workspace that defines them
    assert ws.allowed_child("Organization", "Lab", {}) == 'spec.type "Lab" does not exist'
    assert ws.allowed_child("Team", "Lab", {"lab": lab}) == (
        'workspace type "Lab" may only be created in a workspace of type "Organization"'
    )
    in_teams = _cwt("lab", allowedParentWorkspaceTypes=["Team"])
    assert ws.allowed_child("Team", "Lab", {"lab": in_teams}) is None
    anywhere = _cwt("lab", allowedParentWorkspaceTypes=["Any"])
    assert ws.allowed_child("Team", "Lab", {"lab": anywhere}) is None
    # root and Universal still hold only what they hold
    assert ws.allowed_child("root", "Lab", {"lab": anywhere}) == (
        'the root workspace may only contain workspaces of type "Organization"'
    )
    assert ws.allowed_child("Universal", "Lab", {"lab": anywhere}) == (
        'a workspace of type "Universal" may not contain workspaces'
    )


def test_custom_parent_types() -> None:
    assert ws.allowed_child("Lab", "Universal", {}) == (
        'a workspace of type "Lab" may not contain workspaces'
    )
    holder = _cwt("lab", allowedChildWorkspaceTypes=["Universal"])
    assert ws.allowed_child("Lab", "Universal", {}, parent_definition=holder) is None
    assert ws.allowed_child("Lab", "Team", {}, parent_definition=holder) == (
        'workspace type "Team" may only be created in a workspace of type "Organization"'
    )
    sub = _cwt("sub", allowedParentWorkspaceTypes=["Lab"])
    assert ws.allowed_child("Lab", "Sub", {"sub": sub}, parent_definition=holder) == (
        'a workspace of type "Lab" may only contain workspaces of type "Universal"'
    )
    both = _cwt("lab", allowedChildWorkspaceTypes=["Universal", "Sub"])
    assert ws.allowed_child("Lab", "Sub", {"sub": sub}, parent_definition=both) is None


def test_holds_workspaces() -> None:
    assert [ws.holds_workspaces(t) for t in ("root", "Organization", "Team", "Universal")] == [
        True,
        True,
        True,
        False,
    ]


# --- validate_workspace -------------------------------------------------------------------------


def _validate(new: Any, old: Any = None, parent: str = "Organization") -> list[dict[str, str]]:
    return ws.validate_workspace(new, old, parent_type=parent, custom_types={})


def test_defaulting() -> None:
    obj = workspace("a")
    ws.default_workspace(obj)
    assert obj["spec"] == {"type": "Universal"}
    bare: dict[str, Any] = {"metadata": {"name": "a"}}
    ws.default_workspace(bare)
    assert bare["spec"] == {"type": "Universal"}
    kept = workspace("a", "Team")
    ws.default_workspace(kept)
    assert kept["spec"] == {"type": "Team"}
    assert ws.workspace_type(workspace("a")) == "Universal"
    # an unset type is Universal when validating too
    assert _validate(workspace("a"), parent="Team") == []


DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)


@pytest.mark.parametrize("name", ["a", "team-a", "a1", "x" * 63])
def test_valid_names(name: str) -> None:
    assert _validate(workspace(name)) == []


@pytest.mark.parametrize(
    ("name", "messages"),
    [
        ("Team", [f'Invalid value: "Team": {DNS1035}']),
        ("1team", [f'Invalid value: "1team": {DNS1035}']),
        ("team-", [f'Invalid value: "team-": {DNS1035}']),
        ("a.b", [f'Invalid value: "a.b": {DNS1035}']),
        ("a:b", [f'Invalid value: "a:b": {DNS1035}']),
        (
            "x" * 64,
            [f'Invalid value: "{"x" * 64}": must be no more than 63 bytes'],
        ),
        ("root", ['Invalid value: "root": "root" and "system" are reserved names']),
        ("system", ['Invalid value: "system": "root" and "system" are reserved names']),
        ("", ["Required value: name or generateName is required"]),
    ],
)
def test_invalid_names(name: str, messages: list[str]) -> None:
    causes = _validate(workspace(name))
    assert [c["field"] for c in causes] == ["metadata.name"] * len(messages)
    assert [c["message"] for c in causes] == messages


def test_type_pattern() -> None:
    causes = _validate(workspace("a", "team"))
    assert causes == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec.type",
            "message": 'Invalid value: "team": spec.type in body should match '
            "'^[A-Z][a-zA-Z0-9]+$'",
        }
    ]


def test_unknown_phase() -> None:
    causes = _validate(workspace("a", URL="u", phase="Active"))
    assert causes == [
        {
            "reason": "FieldValueNotSupported",
            "field": "status.phase",
            "message": 'Unsupported value: "Active": supported values: "Scheduling", '
            '"Initializing", "Ready", "Terminating"',
        }
    ]


def test_create_checks_nesting() -> None:
    with pytest.raises(StatusError) as exc:
        _validate(workspace("acme", "Organization"), parent="Organization")
    assert forbidden(exc) == (
        'workspaces.tenancy.kcp.dev "acme" is forbidden: '
        'workspace type "Organization" may only be created in root'
    )
    assert _validate(workspace("acme", "Organization"), parent="root") == []
    with pytest.raises(StatusError) as exc:
        _validate(workspace("a", "Foo"))
    assert (
        forbidden(exc)
        == 'workspaces.tenancy.kcp.dev "a" is forbidden: spec.type "Foo" does not exist'
    )


def test_type_is_immutable() -> None:
    old = workspace("a", "Universal", URL="u", phase="Ready")
    new = copy.deepcopy(old)
    new["spec"]["type"] = "Team"
    with pytest.raises(StatusError) as exc:
        _validate(new, old)
    assert forbidden(exc) == (
        'workspaces.tenancy.kcp.dev "a" is forbidden: '
        'spec.type: Invalid value: "Team": field is immutable'
    )
    # an unset type on update still reads as the Universal it was defaulted to
    same = copy.deepcopy(old)
    same["spec"] = {}
    assert _validate(same, old) == []


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("", "Scheduling"),
        ("Scheduling", "Initializing"),
        ("Initializing", "Ready"),
        ("Scheduling", "Ready"),
        ("Ready", "Ready"),
    ],
)
def test_phase_moves_forward(before: str, after: str) -> None:
    old = workspace("a", "Universal", URL="u", phase=before)
    new = workspace("a", "Universal", URL="u", phase=after)
    assert _validate(new, old) == []


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("Ready", "Initializing"),
        ("Ready", "Scheduling"),
        ("Initializing", "Scheduling"),
        ("Ready", ""),
        ("Terminating", "Ready"),
    ],
)
def test_phase_never_moves_back(before: str, after: str) -> None:
    old = workspace("a", "Universal", URL="u", phase=before)
    new = workspace("a", "Universal", URL="u", phase=after)
    with pytest.raises(StatusError) as exc:
        _validate(new, old)
    assert forbidden(exc) == (
        f'workspaces.tenancy.kcp.dev "a" is forbidden: cannot transition from "{before}" to '
        f'"{after}"'
    )


def test_terminating_only_on_delete() -> None:
    old = workspace("a", "Universal", URL="u", phase="Ready")
    new = workspace("a", "Universal", URL="u", phase="Terminating")
    with pytest.raises(StatusError) as exc:
        _validate(new, old)
    assert forbidden(exc).endswith(
        "is forbidden: status.phase may only become Terminating on deletion"
    )
    new["metadata"]["deletionTimestamp"] = "2022-05-04T00:00:00Z"
    assert _validate(new, old) == []
    # once Terminating it stays so
    assert _validate(new, copy.deepcopy(new)) == []


def test_status_preconditions() -> None:
    old = workspace("a", "Universal", URL="u", phase="Initializing", initializers=["x"])
    ready = workspace("a", "Universal", URL="u", phase="Ready", initializers=["x"])
    with pytest.raises(StatusError) as exc:
        _validate(ready, old)
    assert forbidden(exc).endswith(
        "is forbidden: status.initializers must be empty for phase Ready"
    )
    no_url = workspace("a", "Universal", phase="Initializing")
    with pytest.raises(StatusError) as exc:
        _validate(no_url, workspace("a", "Universal", phase="Scheduling"))
    assert forbidden(exc).endswith("is forbidden: status.URL must be set for phase Initializing")
    with pytest.raises(StatusError) as exc:
        _validate(workspace("a", "Universal", phase="Ready"), old)
    assert forbidden(exc).endswith("is forbidden: status.URL cannot be unset")
    assert _validate(workspace("a", "Universal", phase="Scheduling"), workspace("a")) == []


def test_validate_cluster_workspace_type() -> None:
    org = {"metadata": {"name": "organization"}}
    ws.validate_cluster_workspace_type(org, "root")
    ws.validate_cluster_workspace_type({"metadata": {"name": "team"}}, "root:acme")
    with pytest.raises(StatusError) as exc:
        ws.validate_cluster_workspace_type(org, "root:acme")
    assert forbidden(exc) == (
        'clusterworkspacetypes.tenancy.kcp.dev "organization" is forbidden: '
        "organization type can only be created in root workspace"
    )


# --- logical clusters ---------------------------------------------------------------------------


def test_cluster_paths_and_urls() -> None:
    assert ws.cluster_id("root", "telcops") == "root:telcops"
    assert ws.cluster_id("root:telcops", "team-a") == "root:telcops:team-a"
    assert ws.parent_cluster("root:telcops:team-a") == "root:telcops"
    assert ws.parent_cluster("root") is None
    assert ws.workspace_url(BASE, "root:default") == f"{BASE}/clusters/root:default"
    assert ws.workspace_url(BASE + "/", "root") == f"{BASE}/clusters/root"


@pytest.mark.parametrize(
    "name", ["root", "root:default", "root:a:b-c:d1", "system:admin", "a", "a" * 63]
)
def test_valid_clusters(name: str) -> None:
    assert ws.is_valid_cluster(name)


@pytest.mark.parametrize(
    "name",
    ["", "Root", "root:", ":root", "root::a", "root:a-", "root:1a", "a" * 64, "root\n", "*", "a b"],
)
def test_invalid_clusters(name: str) -> None:
    assert not ws.is_valid_cluster(name)


def test_invalid_cluster_message() -> None:
    assert ws.invalid_cluster_message("Root") == 'invalid cluster: "Root" does not match the regex'


# --- bootstrap ----------------------------------------------------------------------------------


def test_default_organization() -> None:
    obj = ws.default_organization(BASE)
    assert obj == {
        "apiVersion": "tenancy.kcp.dev/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": "default", "finalizers": ["tenancy.kcp.dev/content"]},
        "spec": {"type": "Organization"},
        "status": {"phase": "Ready", "URL": f"{BASE}/clusters/root:default"},
    }
    assert ws.cluster_id(ws.ROOT, obj["metadata"]["name"]) == ws.DEFAULT_ORG
    assert ws.validate_workspace(obj, None, parent_type="root", custom_types={}) == []
    compiled = structural.CompiledSchema.compile(
        ws.system_crds("root")[0]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    )
    assert compiled.validate(obj) == []
