"""What `botrt.storage` lends its sibling packages (the host, the VK adapters): not public API."""

from botrt.storage._conversations import MAX_STATE, StateRows
from botrt.storage._inbox import Fence, Inbox
from botrt.storage._lease import (
    Lease,
    LeaseBusyError,
    LeaseLostError,
    Leases,
    LeaseTiming,
    worker_id,
)
from botrt.storage._partitions import (
    PARTITIONS,
    listen_inbox,
    pending_rows,
    prepare_partitions,
    renew_all,
    route_leases,
)

__all__ = [
    "MAX_STATE",
    "PARTITIONS",
    "Fence",
    "Inbox",
    "Lease",
    "LeaseBusyError",
    "LeaseLostError",
    "LeaseTiming",
    "Leases",
    "StateRows",
    "listen_inbox",
    "pending_rows",
    "prepare_partitions",
    "renew_all",
    "route_leases",
    "worker_id",
]
