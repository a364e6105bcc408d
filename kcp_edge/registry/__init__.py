"""The registry: which kinds a logical cluster serves, and how each is stored.

Why this package exists: between the HTTP surface and the key-value store sits everything
that knows Kubernetes objects as *kinds*: the catalog of resources (built-ins from bundled
schemas now; CRDs and imported kinds later), per-kind rules (validation, defaulting, what a
status update may touch), and the generic store that turns object operations into revisioned
key-value operations (key layout, resourceVersion, preconditions, retries).
"""
