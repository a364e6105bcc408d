"""The one place that knows which kcp-edge this is.

Why this module exists: the version shows up in several places (``kcp version``, the
``gitVersion`` that ``/version`` reports to kubectl, the build of the single file), and they must
agree. ``pyproject.toml`` carries the same number for packaging; keep the two in step. The build
may rewrite `GIT_COMMIT`, `GIT_TREE_STATE` and `BUILD_DATE`; a source checkout says "unknown".
"""

from __future__ import annotations

__version__ = "0.1.0"

GIT_COMMIT = "unknown"
GIT_TREE_STATE = "unknown"
BUILD_DATE = "unknown"
