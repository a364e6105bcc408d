"""kcp-edge: a kcp-style multi-tenant Kubernetes control plane for fleets of edge clusters.

The package is layered (see ``docs/architecture.md``; import-linter checks it): ``storage``
at the bottom, then the API machinery, registry, tenancy and auth, then ``server`` and
``controllers``, with ``cli`` wiring it all into the ``kcp`` command.
"""
