"""Tests of kcp_edge.apimachinery: pure functions checked against upstream behaviour."""
