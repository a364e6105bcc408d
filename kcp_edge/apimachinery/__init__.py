"""Pure functions over Kubernetes JSON: errors, object metadata rules, selectors, patches,
schemas, tables, discovery and OpenAPI documents, protobuf body decoding.

Why this package exists: these rules are the bulk of "behaving like a Kubernetes apiserver",
and they are easiest to get right, test and reuse (the syncer imports them too) when they do no
I/O and know nothing about HTTP or storage.
"""
