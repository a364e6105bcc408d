"""Workspaces (kcp's 2022 tenancy model): the kinds each workspace type serves, the nesting
rules between types, and the admission rules of ``Workspace`` objects, as pure code.

The server, controllers and CLI build on this package; it imports only ``kcp_edge.registry``
and ``kcp_edge.apimachinery``.
"""
