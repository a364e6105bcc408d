"""In-process reconcilers: each a small loop over watches, started and stopped by the server.

Why this package exists: some behaviour of a Kubernetes control plane is not a request's doing
but a controller's (a terminating namespace emptied and finalized; later: workspaces, workload
clusters, the push-mode syncer). Each controller owns one concern and one asyncio task.
"""
