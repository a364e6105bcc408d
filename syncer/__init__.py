"""The sync engine: places a workspace's workloads on an edge cluster and reports status back.

Why this package exists apart from ``kcp_edge``: the same engine runs inside the server (push
mode) and alone at the edge (pull mode, ``kcp syncer``), and it is the only code that imports the
``kubernetes`` client, whose import cost and memory the server must not pay. It may import
``kcp_edge.apimachinery`` and nothing else of the server (checked by import-linter, see
pyproject.toml). The engine itself arrives with the workload-cluster work; this package holds
its place in the layout and in the import contracts.
"""
