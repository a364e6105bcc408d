"""Tests of kcp_edge.registry: the catalog of kinds and what it is built from."""
