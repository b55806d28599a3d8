"""The lease timing a host gives its storage: from ``[cluster] failover`` in a cluster."""

from __future__ import annotations

from botrt.config import ClusterSection
from botrt.storage._internal import LeaseTiming


def lease_timing(cluster: ClusterSection) -> LeaseTiming:
    """How long the storage's leases live: taken over within `failover` s in a cluster.

    Without a cluster, the default (30 s): one process has nobody to fail over to
    but its own next start, which takes over at once (`process_gone`). Raises nothing.
    """
    return LeaseTiming.for_cluster(cluster.enabled, cluster.failover)
