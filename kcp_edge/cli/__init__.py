"""Command lines: ``kcp`` (``start``, ``version``) and, later, the kubectl plugins.

Why this package exists: one artifact answers to several program names (``kcp``, ``kubectl-ws``,
``kubectl-kcp``), so argument parsing and the wiring of storage, credentials and the HTTP server
live here, on top of every other layer, and nowhere else. Entry point: `main.main`.
"""

from __future__ import annotations
