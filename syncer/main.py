"""``kcp syncer``: the sync engine as a process (pull mode, at the edge).

Why this module exists: the pull-mode syncer is started from the manifest ``kubectl kcp
workload sync`` prints (in a pod, in-cluster config downstream) or from the command line it
prints for a host process (a systemd unit running the single file). The flags are kcp's syncer
flags (reference §5.2), plus ``--state-dir`` for the journal and the two intervals. SIGTERM and
SIGINT stop it cleanly; the journal makes a restart resume where it stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from kcp_edge.apimachinery.schemaformats import parse_go_duration
from kcp_edge.version import __version__
from syncer.engine import Syncer, SyncerOptions
from syncer.journal import Journal, state_file
from syncer.kubeclient import KubeClient
from syncer.kubeconfig import ClientConfig, ConfigError, in_cluster_config, load_kubeconfig
from syncer.resources import normalized

log = logging.getLogger("kcp.syncer")


def duration(text: str) -> float:
    """A Go duration (``20s``, ``1m``, ``1m30s``) or plain seconds, for argparse."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return parse_go_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Sync a kcp-edge workspace's workloads to one workload cluster (pull mode).",
    )
    flag = p.add_argument
    flag("--from-kubeconfig", help="kubeconfig of the kcp-edge server (required)")
    flag("--from-context", help="context of --from-kubeconfig (default: its current context)")
    flag("--from-cluster", help="the logical cluster (workspace) to sync from (required)")
    flag(
        "--workload-cluster-name",
        "--sync-target-name",
        dest="workload_cluster_name",
        help="resources with this value in the workloads.kcp.dev/cluster label are synced",
    )
    flag(
        "--resources",
        "-r",
        action="append",
        default=[],
        help="resources to sync (resource or resource.group; repeatable or comma-separated); "
        "deployments.apps, secrets, configmaps and serviceaccounts are always synced",
    )
    flag("--to-kubeconfig", help="kubeconfig of the edge cluster (default: in-cluster config)")
    flag("--to-context", help="context of --to-kubeconfig")
    flag(
        "--state-dir",
        default="/var/lib/kcp-syncer",
        help="directory of the syncer's journal (default: /var/lib/kcp-syncer)",
    )
    flag("--heartbeat-interval", type=duration, default=20.0, help="default: 20s")
    flag("--api-import-poll-interval", type=duration, default=60.0, help="default: 1m")
    flag("-v", "--v", dest="verbosity", type=int, default=2, help="log verbosity (default: 2)")
    return p


def run_syncer(prog: str, args: list[str]) -> int:
    try:
        ns = parser(prog).parse_args(args)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    if not ns.from_cluster:
        print("Error: --from-cluster is required", file=sys.stderr)
        return 1
    if not ns.from_kubeconfig:
        print("Error: --from-kubeconfig is required", file=sys.stderr)
        return 1
    if not ns.workload_cluster_name:
        print("Error: --workload-cluster-name is required", file=sys.stderr)
        return 1
    logging.basicConfig(
        level=logging.DEBUG if ns.verbosity >= 4 else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        upstream = load_kubeconfig(ns.from_kubeconfig, ns.from_context)
        downstream = (
            load_kubeconfig(ns.to_kubeconfig, ns.to_context)
            if ns.to_kubeconfig
            else in_cluster_config()
        )
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    options = SyncerOptions(
        logical_cluster=ns.from_cluster,
        workload_cluster=ns.workload_cluster_name,
        resources=tuple(normalized(ns.resources)),
        mode="Pull",
        version=__version__,
        heartbeat_interval=ns.heartbeat_interval,
        api_import_interval=ns.api_import_poll_interval,
    )
    state = Path(ns.state_dir)
    journal_file = state_file(state, ns.from_cluster, ns.workload_cluster_name, ".db")
    return asyncio.run(_main(upstream, downstream, options, journal_file))


async def _main(
    upstream_config: ClientConfig,
    downstream_config: ClientConfig,
    options: SyncerOptions,
    journal_file: Path,
) -> int:
    journal = Journal(journal_file)
    agent = f"kcp-edge-syncer/{__version__} ({options.workload_cluster})"
    up = KubeClient(upstream_config, user_agent=agent)
    down = KubeClient(downstream_config, user_agent=agent)
    task = asyncio.create_task(
        Syncer(upstream=up, downstream=down, options=options, journal=journal).run()
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    log.info(
        "syncer for workload cluster %s of %s started (resources: %s)",
        options.workload_cluster,
        options.logical_cluster,
        ", ".join(options.resources),
    )
    try:
        await task
    except asyncio.CancelledError:
        log.info("syncer stopped")
    finally:
        with contextlib.suppress(Exception):
            await up.close()
            await down.close()
        journal.close()
    return 0
