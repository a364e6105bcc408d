"""The HTTP surface of kcp-edge: an ASGI application built with starlette.

Why this package exists: it is the only code that speaks HTTP (and the only code importing
starlette). Everything below it (auth, storage) is plain Python that the handlers here call;
``kcp_edge.cli`` only wires the application to uvicorn. Start with `app.build_app`.
"""

from __future__ import annotations
