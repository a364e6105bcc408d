"""The sync engine: places a workspace's workloads on an edge cluster and reports status back.

Why this package exists apart from ``kcp_edge``: the same engine runs inside the server (push
mode) and alone at the edge (pull mode, ``kcp syncer``), so it must stay small and must not pull
the server's storage or HTTP layers into an edge process. It may import
``kcp_edge.apimachinery`` and nothing else of the server (checked by import-linter, see
pyproject.toml). It talks HTTP itself (``kubeclient``, on h11) rather than through the
``kubernetes`` client: see that module. Map: ``engine`` (the reconciler), ``journal`` (its
local memory), ``naming``/``transform`` (the copy down), ``importer`` (API import),
``push`` (the server's supervisor), ``main`` (``kcp syncer``).
"""
