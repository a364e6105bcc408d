"""Protobuf body decoding benchmark: `protobuf.decode` against ``orjson.loads`` of the same object.

Not a test: it prints figures and ratios (CI machines are noisy; nothing here asserts timing).

    .venv/bin/python tests/benchmarks/bench_protobuf.py [--iterations 10000] [--goal-us 100]

For each upstream vector in ``tests/fixtures/protobuf`` (every field filled), it decodes the
``.pb`` body N times and parses its ``.json`` twin N times with orjson (the baseline: what a JSON
request body costs), and prints microseconds per decode and the ratio. It also times a
ConfigMap as ``kubectl create configmap`` sends it (one key). The goal is a ConfigMap well under
100 µs; the first decode, which loads the field table, is timed on its own.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kcp_edge.apimachinery import protobuf

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "protobuf"


def _ld(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (payloads here are shorter than 128 bytes)."""
    return bytes([number << 3 | 2, len(payload)]) + payload


# kubectl create configmap y --from-literal=k=v, as client-go marshals it: every non-pointer
# ObjectMeta field is written, empty (name, generateName, ..., generation 0, a zero Time).
_META = _ld(1, b"y") + b"".join(_ld(number, b"") for number in range(2, 7)) + b"\x38\x00"
KUBECTL_CONFIGMAP = (
    b"k8s\x00"
    + _ld(1, _ld(1, b"v1") + _ld(2, b"ConfigMap"))
    + _ld(2, _ld(1, _META + _ld(8, b"")) + _ld(2, _ld(1, b"k") + _ld(2, b"v")))
    + _ld(3, b"")
    + _ld(4, b"")
)
KUBECTL_CONFIGMAP_JSON = (
    b'{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"y"},"data":{"k":"v"}}'
)


def per_call_us(function: Callable[[bytes], object], argument: bytes, iterations: int) -> float:
    start = time.perf_counter()
    for _ in range(iterations):
        function(argument)
    return (time.perf_counter() - start) / iterations * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--goal-us", type=float, default=100.0)
    args = parser.parse_args()

    start = time.perf_counter()
    protobuf.decode(KUBECTL_CONFIGMAP)
    first_ms = (time.perf_counter() - start) * 1e3
    print(f"first decode (loads and parses the field table): {first_ms:.1f} ms")

    cases = [("kubectl create configmap (1 key)", KUBECTL_CONFIGMAP, KUBECTL_CONFIGMAP_JSON)]
    for pb in sorted(FIXTURES.glob("*.pb")):
        cases.append((pb.stem, pb.read_bytes(), pb.with_suffix(".json").read_bytes()))

    print(f"{args.iterations} decodes each; µs per decode")
    print(f"{'vector':58} {'pb bytes':>8} {'protobuf':>9} {'orjson':>8} {'ratio':>6}")
    for name, body, twin in cases:
        if protobuf.decode(body) != orjson.loads(twin):
            print(f"{name}: decoded object differs from its JSON twin")
            return 1
        decode_us = per_call_us(protobuf.decode, body, args.iterations)
        loads_us = per_call_us(orjson.loads, twin, args.iterations)
        print(
            f"{name:58} {len(body):8d} {decode_us:9.1f} {loads_us:8.2f} "
            f"{decode_us / loads_us:5.0f}x"
        )
        if name == "core.v1.ConfigMap":
            verdict = "meets" if decode_us < args.goal_us else "MISSES"
            print(f"  -> ConfigMap {verdict} the {args.goal_us:.0f} µs goal ({decode_us:.1f} µs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
