"""``python -m kcp_edge``: the same as the ``kcp`` command.

Why this module exists: it lets the package (and the single-file build) run without an installed
console script; the program name still selects which command line answers (see ``cli.main``).
"""

from __future__ import annotations

import sys

from kcp_edge.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
